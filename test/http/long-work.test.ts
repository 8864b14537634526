import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createApiClient } from '../../src/client/api.ts'
import { progressJson } from '../../src/client/progress.ts'
import { FramehubError } from '../../src/core/errors.ts'
import type { GcOptions, GcResult } from '../../src/services/gc.ts'
import { clearApiAddress, writeApiAddress } from '../../src/storage/api-file.ts'
import { runCli } from '../helpers/repo.ts'
import { frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

/** Longer than the gateway's request timeout in these tests (1 s): work that outlasts it. */
const SLOW_MS = 2500

describe('long work over HTTP: gc, index rebuild and verify outlast the gateway\'s timeouts', () => {
  let h: Harness
  let url: string
  let realGc: (options?: GcOptions) => Promise<GcResult>
  /** What the injected gc does before the real one: wait, report progress, or fail. */
  let before_: (options?: GcOptions) => Promise<void> = async () => {}
  before(async () => {
    // Pre-fix, the socket idle timeout was the request timeout: a handler working past it lost
    // its connection, and the CLI then opened the repository and reported ERR_REPO_LOCKED.
    h = await harness({ requestTimeout: 1000 })
    for (let i = 0; i < 5; i++) await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(`long/${i}`) })
    await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: 'm' } })
    realGc = h.node.gc.gc
    h.node.gc.gc = async (options) => {
      await before_(options)
      return await realGc(options)
    }
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
    await writeApiAddress(h.node.repo.path, { url, pid: process.pid, token: h.token })
  })
  after(async () => {
    await clearApiAddress(h.node.repo.path)
    await h.close()
  })

  test('a plain JSON answer comes after the work, however long past the request timeout', async () => {
    before_ = async () => { await sleep(SLOW_MS) }
    const res = await fetch(`${url}/api/v1/gc?dryRun=true`, { method: 'POST', headers: h.auth })
    assert.equal(res.status, 200)
    const body = await res.json() as { dryRun: boolean, kept: number }
    assert.equal(body.dryRun, true)
    assert.ok(body.kept > 0)
  })

  test('the CLI waits for gc through the daemon and gets its result, not ERR_REPO_LOCKED', async () => {
    before_ = async () => { await sleep(SLOW_MS) }
    // This process holds the repository's lock: an answer proves the daemon did the work.
    const gc = await runCli(['--repo', h.node.repo.path, 'gc', '--dry-run', '--json'])
    assert.equal(gc.code, 0, gc.stderr)
    assert.equal(gc.json.dryRun, true)
    assert.ok(gc.json.kept > 0)
  })

  test('with Accept: application/x-ndjson, progress lines come as the work goes, then the result', async () => {
    before_ = async (options) => {
      for (let i = 1; i <= 3; i++) {
        options?.onProgress?.({ type: 'gc:mark:progress', detail: { phase: 'mark', blocks: i } })
        await sleep(SLOW_MS / 3)
      }
    }
    const res = await fetch(`${url}/api/v1/gc?dryRun=true`, { method: 'POST', headers: { ...h.auth, accept: 'application/x-ndjson' } })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/)
    const lines = (await res.text()).trim().split('\n').map(l => JSON.parse(l) as Record<string, any>)
    assert.deepEqual(lines.slice(0, 3).map(l => l.progress), [1, 2, 3].map(blocks => ({ phase: 'mark', blocks })))
    const last = lines.at(-1) as Record<string, any>
    assert.equal(last.result.dryRun, true)
    assert.ok(lines.slice(0, -1).every(l => 'progress' in l), 'only progress lines before the result')

    // The client's reading of it: progress to the callback, the result returned.
    const seen: unknown[] = []
    const api = createApiClient({ url, token: h.token })
    const result = await progressJson<{ dryRun: boolean }>(api, '/gc', { method: 'POST', query: { dryRun: true } }, (p) => seen.push(p))
    assert.equal(result.dryRun, true)
    assert.deepEqual(seen.slice(0, 3), [1, 2, 3].map(blocks => ({ phase: 'mark', blocks })))
  })

  test('an error after the answer started is its own line, and the CLI reports its code and exit', async () => {
    before_ = async (options) => {
      options?.onProgress?.({ type: 'gc:mark:progress', detail: { phase: 'mark', blocks: 1 } })
      throw new FramehubError('ERR_REPO_CORRUPT', 'a state record cannot be read')
    }
    const res = await fetch(`${url}/api/v1/gc`, { method: 'POST', headers: { ...h.auth, accept: 'application/x-ndjson' } })
    assert.equal(res.status, 200)
    const lines = (await res.text()).trim().split('\n').map(l => JSON.parse(l) as Record<string, any>)
    assert.deepEqual(lines.at(-1), { error: { code: 'ERR_REPO_CORRUPT', message: 'a state record cannot be read' } })
    const gc = await runCli(['--repo', h.node.repo.path, 'gc', '--json'])
    assert.equal(gc.code, 5, gc.stderr)
    assert.equal(JSON.parse(gc.stderr).code, 'ERR_REPO_CORRUPT')
  })

  test('an upload is not silence: a slow streamed body outlasts the client\'s timeout', async () => {
    const head = (await h.node.refs.resolveCommit('main')).toString()
    const parts: Uint8Array[] = []
    for await (const chunk of h.node.snapshots.exportCar(await h.node.snapshots.resolveRoot(head)).car) parts.push(chunk)
    const car = Buffer.concat(parts)
    const slowly = async function * (): AsyncGenerator<Uint8Array> {
      const step = Math.ceil(car.byteLength / 8)
      for (let at = 0; at < car.byteLength; at += step) {
        await sleep(100)
        yield car.subarray(at, at + step)
      }
    }
    // 8 pieces 100 ms apart: longer in all than the 300 ms of silence the client allows.
    const api = createApiClient({ url, token: h.token, timeoutMs: 300 })
    const stats = await api.json<{ root: string }>('/snapshots', { method: 'POST', body: slowly(), contentType: 'application/vnd.ipld.car' })
    assert.equal(stats.root, head)
  })

  test('index rebuild and verify stream their progress too', async () => {
    const rebuild = await fetch(`${url}/api/v1/index/rebuild`, { method: 'POST', headers: { ...h.auth, accept: 'application/x-ndjson' } })
    const rebuildLines = (await rebuild.text()).trim().split('\n').map(l => JSON.parse(l) as Record<string, any>)
    assert.deepEqual(rebuildLines[0], { progress: { branch: 'main', done: 0, total: 1 } })
    assert.deepEqual(rebuildLines.at(-1)?.result.updates.map((u: { branch: string, mode: string }) => [u.branch, u.mode]), [['main', 'rebuild']])
    const verify = await fetch(`${url}/api/v1/verify`, { headers: { accept: 'application/x-ndjson' } })
    const verifyLast = JSON.parse((await verify.text()).trim().split('\n').at(-1) as string) as Record<string, any>
    assert.equal(verifyLast.result.ok, true)
    const cli = await runCli(['--repo', h.node.repo.path, 'index', 'rebuild', '--json'])
    assert.equal(cli.code, 0, cli.stderr)
    assert.deepEqual(cli.json.updates.map((u: { branch: string }) => u.branch), ['main'])
  })
})

describe('a daemon that is alive but does not answer', () => {
  let h: Harness
  let silent: Server
  before(async () => {
    h = await harness()
    // Takes connections and never answers: a daemon busy or stuck.
    silent = createServer(() => {})
    await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve) })
    const { port } = silent.address() as AddressInfo
    // The repository is held (locked) by this process, as a daemon would hold it.
    await writeApiAddress(h.node.repo.path, { url: `http://127.0.0.1:${port}`, pid: process.pid, token: h.token })
  })
  after(async () => {
    await clearApiAddress(h.node.repo.path)
    silent.closeAllConnections()
    await new Promise<void>((resolve) => { silent.close(() => { resolve() }) })
    await h.close()
  })

  test('the client\'s own timeout is ERR_TIMEOUT, exit 7, never ERR_REPO_LOCKED', async () => {
    const gc = await runCli(['--repo', h.node.repo.path, 'gc', '--json'], { env: { FRAMEHUB_DAEMON_TIMEOUT: '1' } })
    assert.equal(gc.code, 7, gc.stderr)
    assert.equal(JSON.parse(gc.stderr).code, 'ERR_TIMEOUT')
    // Commands on the daemon's services (first a health check) say the same.
    const ls = await runCli(['--repo', h.node.repo.path, 'frame', 'ls', '--json'], { env: { FRAMEHUB_DAEMON_TIMEOUT: '1' } })
    assert.equal(ls.code, 7, ls.stderr)
    assert.equal(JSON.parse(ls.stderr).code, 'ERR_TIMEOUT')
  })

  test('a bad FRAMEHUB_DAEMON_TIMEOUT is a usage error', async () => {
    const gc = await runCli(['--repo', h.node.repo.path, 'gc', '--json'], { env: { FRAMEHUB_DAEMON_TIMEOUT: 'soon' } })
    assert.equal(gc.code, 2, gc.stderr)
    assert.equal(JSON.parse(gc.stderr).code, 'ERR_USAGE')
  })

  test('the API client gives up on silence with ERR_TIMEOUT', async () => {
    const { port } = silent.address() as AddressInfo
    const api = createApiClient({ url: `http://127.0.0.1:${port}`, token: 't', timeoutMs: 200 })
    await assert.rejects(api.json('/gc', { method: 'POST' }), (err: FramehubError) => err.code === 'ERR_TIMEOUT')
  })
})
