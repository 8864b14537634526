/**
 * `framehub pin remote add|ls|rm`, the real CLI as a subprocess, against a second framehub node's
 * `/pins` (its gateway listening on a random loopback port) and a stub server on loopback for the
 * answers a framehub node does not give. No local repository is involved.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { runCli, tempDir } from '../helpers/repo.ts'
import type { CliResult } from '../helpers/repo.ts'

/** A valid CID of a block no node here has: pinning it fails. */
const ABSENT = 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'
const CLI_TIMEOUT_MS = 30_000

async function listen (server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A loopback port nothing listens on (bound once by the OS, then closed). */
async function closedPort (): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

/** Asserts a failure: the exit code, one line on stderr with the code, no stack trace. */
function assertError (r: CliResult, exit: number, code: string, json: boolean): { code: string, message: string } | string {
  assert.equal(r.code, exit, `exit ${r.code}, wanted ${exit}: ${r.stderr}`)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  if (json) {
    const body = JSON.parse(r.stderr) as { code: string, message: string }
    assert.equal(body.code, code, r.stderr)
    return body
  }
  assert.match(r.stderr, new RegExp(`^error: .*\\(${code}\\)\\n$`))
  return r.stderr
}

describe('framehub pin remote (real CLI) against another node\'s /pins on loopback', { timeout: 300_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let node: FramehubNode
  let app: FastifyInstance
  let base: string
  let token: string
  let stub: Server
  let stubBase: string
  let closed: string
  let frameCid: string
  let leafCid: string
  /** A repository that must never be created: these commands need none. */
  let noRepo: string

  /** The CLI with no service in the environment unless given. */
  const pin = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    await runCli(['--repo', noRepo, 'pin', 'remote', ...args], { cwd: dir, env: { FRAMEHUB_PIN_SERVICE: '', FRAMEHUB_PIN_TOKEN: '', ...env }, timeoutMs: CLI_TIMEOUT_MS })
  const at = (): string[] => ['--service', base, '--token', token]

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-pin-remote-'))
    noRepo = join(dir, 'no-repo')
    node = await createNode({ repo: join(dir, 'service'), create: true })
    app = await createGateway(node, { logger: false, underPressure: false })
    await app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    token = node.repo.config.apiToken
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const put = async (frame: unknown): Promise<string> => {
      const res = await fetch(`${base}/api/v1/frames`, { method: 'POST', headers, body: JSON.stringify(frame), signal: AbortSignal.timeout(10_000) })
      assert.equal(res.status, 201, await res.clone().text())
      return ((await res.json()) as { cid: string }).cid
    }
    leafCid = await put({ id: 'pin/leaf', kind: 'fact', body: { n: 1 } })
    frameCid = await put({ id: 'pin/frame', kind: 'fact', title: 'pinned remotely', links: [{ cid: { '/': leafCid } }] })

    // Answers a framehub node does not give: 403, a pin that stays queued, a server that is not a pinning service.
    stub = createServer((req, res) => {
      const url = req.url ?? '/'
      const send = (status: number, body: unknown, type = 'application/json'): void => {
        res.writeHead(status, { 'content-type': type })
        res.end(typeof body === 'string' ? body : JSON.stringify(body))
      }
      req.resume()
      if (url.startsWith('/forbidden/')) return send(403, { error: { reason: 'FORBIDDEN', details: 'token lacks the pin scope' } })
      if (url.startsWith('/stuck/pins')) {
        return send(req.method === 'POST' ? 202 : 200, { requestid: 'stuck-1', status: 'queued', created: new Date().toISOString(), pin: { cid: ABSENT }, delegates: [] })
      }
      if (url.startsWith('/html/')) return send(200, '<html>not a pinning service</html>', 'text/html')
      if (url.startsWith('/busy/')) return send(503, { error: { reason: 'SERVICE_UNAVAILABLE' } })
      return send(404, 'no such route', 'text/plain')
    })
    stubBase = await listen(stub)
    closed = `http://127.0.0.1:${await closedPort()}`
  })

  /**
   * A pinning service of one test's own (another node's gateway on loopback) holding the two frames
   * and, in this order, the pin requests `pins` ([name, which CID]) settled: what the tests before
   * the test left on the shared service. Closed when the test ends.
   */
  const serviceFor = async (t: TestContext, pins: Array<[string, 'frame' | 'leaf' | 'absent']>): Promise<{ base: string, token: string, at: () => string[] }> => {
    const own = await createNode({ repo: join(dir, `service-${++services}`), create: true })
    const gateway = await createGateway(own, { logger: false, underPressure: false })
    t.after(async () => { await gateway.close(); await own.close() })
    await gateway.listen({ host: '127.0.0.1', port: 0 })
    const url = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`
    const key = own.repo.config.apiToken
    const leaf = (await own.frames.put({ id: 'pin/leaf', kind: 'fact', body: { n: 1 } })).cid.toString()
    const frame = (await own.frames.put({ id: 'pin/frame', kind: 'fact', title: 'pinned remotely', links: [{ cid: { '/': leaf } }] })).cid.toString()
    assert.deepEqual([leaf, frame], [leafCid, frameCid], 'the same frames, the same CIDs')
    const cids = { frame, leaf, absent: ABSENT }
    for (const [name, which] of pins) {
      // Requests are listed newest first: each gets a creation time of its own.
      const last = Date.now()
      while (Date.now() === last) await new Promise(resolve => setTimeout(resolve, 1))
      const res = await fetch(`${url}/pins`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ cid: cids[which], name }) })
      assert.equal(res.status, 202, await res.clone().text())
      await gateway.framehub.pins.idle()
    }
    return { base: url, token: key, at: () => ['--service', url, '--token', key] }
  }
  let services = 0
  /** The requests the "add" tests leave: frame-a and leaf pinned, leaf-bg pinned last, absent failed twice. */
  const ADDED: Array<[string, 'frame' | 'leaf' | 'absent']> = [['frame-a', 'frame'], ['leaf', 'leaf'], ['leaf-bg', 'leaf'], ['absent', 'absent'], ['absent', 'absent']]

  after(async () => {
    if (stub != null) await new Promise<void>((resolve) => { stub.close(() => { resolve() }) })
    await app?.close()
    await node?.close()
    await cleanup()
    assert.equal(existsSync(noRepo), false, 'no local repository was created')
  })

  it('every pin command has --help', async () => {
    for (const c of [['pin'], ['pin', 'remote'], ['pin', 'remote', 'add'], ['pin', 'remote', 'ls'], ['pin', 'remote', 'rm']]) {
      const r = await runCli([...c, '--help'], { timeoutMs: CLI_TIMEOUT_MS })
      assert.equal(r.code, 0, `${c.join(' ')} --help: ${r.stderr}`)
      assert.match(r.stdout, /^Usage: framehub/)
    }
    assert.match((await runCli(['pin', 'remote', 'add', '--help'])).stdout, /--service <url>[\s\S]*FRAMEHUB_PIN_SERVICE/)
  })

  it('add waits until the service has pinned the CID and prints requestid, status, cid, name', async () => {
    const r = await pin(['add', frameCid, ...at(), '--name', 'frame-a', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json.status, 'pinned')
    assert.equal(r.json.cid, frameCid)
    assert.equal(r.json.name, 'frame-a')
    assert.equal(typeof r.json.requestid, 'string')
    assert.match(r.json.created, /^\d{4}-\d\d-\d\dT/)
    assert.deepEqual(r.json.delegates, [`/p2p/${node.peerId}`])
    // The service agrees, and holds the pin (the whole DAG is there).
    const got = await fetch(`${base}/pins/${r.json.requestid as string}`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(((await got.json()) as { status: string }).status, 'pinned')
    assert.equal(await (await node.repo.helia()).pins.isPinned((await import('multiformats/cid')).CID.parse(frameCid)), true)

    // Human output; the service URL may also be given as the node's /pins, with a trailing slash.
    const human = await pin(['add', leafCid, '--service', `${base}/pins/`, '--token', token, '--name', 'leaf'])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^requestid \S+\nstatus {4}pinned\ncid {7}\S+\nname {6}leaf\n$/)
    assert.ok(human.stdout.includes(leafCid))
  })

  it('add --background returns once queued; the pin completes on the service', async () => {
    const r = await pin(['add', leafCid, ...at(), '--name', 'leaf-bg', '--background', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.ok(['queued', 'pinning', 'pinned'].includes(r.json.status), r.stdout)
    await app.framehub.pins.idle()
    const ls = await pin(['ls', ...at(), '--name', 'leaf-bg', '--json'])
    assert.equal(ls.json.count, 1)
    assert.equal(ls.json.results[0].requestid, r.json.requestid)
  })

  it('add of a CID the service cannot get: status failed on stdout, exit 1 (ERR_PIN_FAILED)', async () => {
    for (const json of [true, false]) {
      const r = await pin(['add', ABSENT, ...at(), '--name', 'absent', ...(json ? ['--json'] : [])])
      const err = assertError(r, 1, 'ERR_PIN_FAILED', json)
      assert.match(JSON.stringify(err), /ERR_BLOCK_NOT_FOUND/, 'the service\'s reason is shown')
      if (json) assert.equal(r.json.status, 'failed')
      else assert.match(r.stdout, /^status {4}failed$/m)
    }
  })

  it('ls lists and filters by status, name, cid and limit; service and token may come from the environment', async (t) => {
    const { base, token, at } = await serviceFor(t, ADDED)
    const all = await pin(['ls', ...at(), '--status', 'queued,pinning,pinned,failed', '--limit', '1000', '--json'])
    assert.equal(all.code, 0, all.stderr)
    assert.equal(all.json.count, 5)
    assert.equal(all.json.results.length, 5)

    const pinned = await pin(['ls', ...at(), '--json'])
    assert.equal(pinned.json.count, 3, 'pinned only by default')
    assert.ok(pinned.json.results.every((p: { status: string }) => p.status === 'pinned'))

    const failed = await pin(['ls', ...at(), '--status', 'failed', '--json'])
    assert.equal(failed.json.count, 2)
    assert.ok(failed.json.results.every((p: { cid: string, name: string }) => p.cid === ABSENT && p.name === 'absent'))

    const byName = await pin(['ls', ...at(), '--name', 'frame-a', '--json'])
    assert.deepEqual(byName.json.results.map((p: { cid: string }) => p.cid), [frameCid])
    const partial = await pin(['ls', ...at(), '--name', 'LEAF', '--match', 'ipartial', '--json'])
    assert.equal(partial.json.count, 2)

    const byCid = await pin(['ls', ...at(), '--cid', leafCid, '--json'])
    assert.equal(byCid.json.count, 2)
    assert.ok(byCid.json.results.every((p: { cid: string }) => p.cid === leafCid))
    const twoCids = await pin(['ls', ...at(), '--cid', `${leafCid},${frameCid}`, '--json'])
    assert.equal(twoCids.json.count, 3)

    const env = { FRAMEHUB_PIN_SERVICE: base, FRAMEHUB_PIN_TOKEN: token }
    const human = await pin(['ls', '--limit', '1'], env)
    assert.equal(human.code, 0, human.stderr)
    const lines = human.stdout.trim().split('\n')
    assert.equal(lines.length, 2, human.stdout)
    assert.match(lines[0] as string, /^\S+ {2}pinned {3}\S+ {2}leaf-bg$/)
    assert.equal(lines[1], '(1 of 3; use --limit for more)')

    const none = await pin(['ls', ...at(), '--name', 'nothing-called-this'])
    assert.equal(none.code, 0)
    assert.equal(none.stdout, '(no pins)\n')
  })

  it('rm removes one request; a second rm of it is not found (exit 3)', async (t) => {
    const { at } = await serviceFor(t, ADDED)
    const [first] = (await pin(['ls', ...at(), '--name', 'frame-a', '--json'])).json.results as Array<{ requestid: string }>
    assert.ok(first != null)
    const r = await pin(['rm', first.requestid, ...at(), '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.json, { removed: [first.requestid] })
    assert.equal((await pin(['ls', ...at(), '--name', 'frame-a', '--json'])).json.count, 0)
    for (const json of [true, false]) {
      const again = await pin(['rm', first.requestid, ...at(), ...(json ? ['--json'] : [])])
      const err = assertError(again, 3, 'ERR_PIN_NOT_FOUND', json)
      assert.ok(JSON.stringify(err).includes(first.requestid))
    }
  })

  it('rm --cid removes every request of a CID, whatever its status', async (t) => {
    // What the "rm" test leaves: frame-a removed.
    const { at } = await serviceFor(t, ADDED.filter(([name]) => name !== 'frame-a'))
    const leaf = await pin(['rm', '--cid', leafCid, ...at(), '--json'])
    assert.equal(leaf.code, 0, leaf.stderr)
    assert.equal(leaf.json.removed.length, 2)
    const absent = await pin(['rm', '--cid', ABSENT, ...at()])
    assert.equal(absent.code, 0, absent.stderr)
    assert.equal(absent.stdout.trim().split('\n').length, 2)
    assert.equal((await pin(['ls', ...at(), '--status', 'queued,pinning,pinned,failed', '--json'])).json.count, 0)
    assertError(await pin(['rm', '--cid', leafCid, ...at(), '--json']), 3, 'ERR_PIN_NOT_FOUND', true)
  })

  describe('bad input and failing services: one line, stable code, documented exit, no stack trace', () => {
    const cases: Array<[string, () => string[], number, string, RegExp?]> = [
      ['malformed CID', () => ['add', 'not-a-cid', ...at()], 4, 'ERR_CID_INVALID', /not-a-cid/],
      ['malformed CID in ls --cid', () => ['ls', '--cid', 'bafy!', ...at()], 4, 'ERR_CID_INVALID'],
      ['malformed CID in rm --cid', () => ['rm', '--cid', 'Qm0', ...at()], 4, 'ERR_CID_INVALID'],
      ['service URL that is not a URL', () => ['ls', '--service', 'localhost:8080', '--token', token], 2, 'ERR_USAGE', /http\(s\)/],
      ['service URL that is not http(s)', () => ['add', frameCid, '--service', 'ftp://127.0.0.1/pins', '--token', token], 2, 'ERR_USAGE', /ftp/],
      ['no service at all', () => ['ls', '--token', token], 2, 'ERR_USAGE', /FRAMEHUB_PIN_SERVICE/],
      ['no token', () => ['ls', '--service', base], 2, 'ERR_USAGE', /FRAMEHUB_PIN_TOKEN/],
      ['bad --status', () => ['ls', ...at(), '--status', 'pinned,done'], 2, 'ERR_USAGE', /done/],
      ['bad --limit', () => ['ls', ...at(), '--limit', '0'], 2, 'ERR_USAGE'],
      ['bad --origin', () => ['add', frameCid, ...at(), '--origin', 'not/a/multiaddr'], 2, 'ERR_USAGE'],
      ['rm with neither REQUESTID nor --cid', () => ['rm', ...at()], 2, 'ERR_USAGE'],
      ['wrong token', () => ['add', frameCid, '--service', base, '--token', 'wrong'], 2, 'ERR_UNAUTHORIZED', /refused the access token.*401/],
      ['wrong token (ls)', () => ['ls', '--service', base, '--token', 'wrong'], 2, 'ERR_UNAUTHORIZED'],
      ['403 from the service', () => ['ls', '--service', `${stubBase}/forbidden`, '--token', 't'], 2, 'ERR_UNAUTHORIZED', /403 FORBIDDEN: token lacks the pin scope/],
      ['unreachable service (closed port)', () => ['add', frameCid, '--service', closed, '--token', token], 7, 'ERR_PIN_SERVICE_UNREACHABLE', /ECONNREFUSED/],
      ['unreachable service (ls, rm)', () => ['rm', 'some-id', '--service', closed, '--token', token], 7, 'ERR_PIN_SERVICE_UNREACHABLE'],
      ['service answering 503', () => ['ls', '--service', `${stubBase}/busy`, '--token', 't'], 7, 'ERR_PIN_SERVICE_UNREACHABLE', /503/],
      ['no /pins at that URL', () => ['ls', '--service', `${stubBase}/elsewhere`, '--token', 't'], 3, 'ERR_NOT_FOUND', /Pinning Service API endpoint/],
      ['not a pinning service', () => ['ls', '--service', `${stubBase}/html`, '--token', 't'], 1, 'ERR_PIN_SERVICE'],
      ['a pin that stays queued past --timeout', () => ['add', ABSENT, '--service', `${stubBase}/stuck`, '--token', 't', '--timeout', '1'], 7, 'ERR_TIMEOUT', /stuck-1.*still queued/]
    ]
    for (const [name, args, exit, code, message] of cases) {
      it(name, async () => {
        for (const json of [true, false]) {
          const started = Date.now()
          const r = await pin([...args(), ...(json ? ['--json'] : [])])
          const err = assertError(r, exit, code, json)
          assert.equal(r.stdout, '', 'nothing on stdout')
          if (message != null) assert.match(typeof err === 'string' ? err : err.message, message)
          if (code === 'ERR_PIN_SERVICE_UNREACHABLE' && name.includes('closed')) assert.ok(JSON.stringify(err).includes(closed), 'the message names the URL')
          if (code === 'ERR_TIMEOUT') assert.ok(Date.now() - started < 15_000, 'the wait is bounded by --timeout')
        }
      })
    }
  })
})
