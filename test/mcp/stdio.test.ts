import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { CarReader } from '@ipld/car'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { frameUri, sessionUri } from '../../src/mcp/server.ts'
import { seedRepo, startDaemonProcess } from '../helpers/daemon.ts'
import type { DaemonProcess } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'

const BIN = fileURLToPath(new URL('../../bin/framehub.js', import.meta.url))

interface Served { client: Client, transport: StdioClientTransport, stderr: () => string, errors: Error[] }

/** `node bin/framehub.js --repo REPO mcp` under the SDK's own stdio client. */
async function serve (repo: string): Promise<Served> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, '--repo', repo, 'mcp'],
    env: { ...process.env as Record<string, string>, FRAMEHUB_REPO: '' },
    stderr: 'pipe'
  })
  let err = ''
  transport.stderr?.on('data', (c: Buffer) => { err += c.toString() })
  const client = new Client({ name: 'framehub-stdio-test', version: '1.0.0' })
  // Anything on stdout that is not a JSON-RPC message shows up here.
  const errors: Error[] = []
  client.onerror = (e) => { errors.push(e) }
  await client.connect(transport)
  return { client, transport, stderr: () => err, errors }
}

function ok (result: unknown): Record<string, any> {
  const r = result as CallToolResult
  assert.notEqual(r.isError, true, `tool error: ${JSON.stringify(r.content)}`)
  return r.structuredContent as Record<string, any>
}

function errorCode (result: unknown): string {
  const r = result as CallToolResult
  assert.equal(r.isError, true)
  return (r.structuredContent as { code: string }).code
}

const frame = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ id, kind: 'fact', title: `title of ${id}`, body: { text: `body of ${id}` }, ...extra })

function updatedOnce (client: Client, uri: string, ms = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no resources/updated for ${uri} within ${ms} ms`)) }, ms)
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      if (n.params.uri === uri) { clearTimeout(timer); resolve(n.params.uri) }
    })
  })
}

describe('framehub mcp (stdio) on a repository it opens itself', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let repo: string
  let s: Served
  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-mcp-stdio-'))
    repo = join(dir, 'repo')
    assert.equal((await runCli(['--repo', repo, 'init'])).code, 0)
    s = await serve(repo)
  })
  after(async () => {
    await s.client.close().catch(() => {})
    await cleanup()
  })

  test('lists the tools; the export may write a file here (not read-only)', async () => {
    const { tools } = await s.client.listTools()
    assert.ok(tools.length >= 11)
    const exp = tools.find(t => t.name === 'snapshot_export')
    assert.equal(exp?.annotations?.readOnlyHint, false)
    assert.equal(exp?.annotations?.destructiveHint, false)
    assert.equal(tools.find(t => t.name === 'recall')?.annotations?.readOnlyHint, true)
  })

  test('remember, recall, search; bad input is an error result with a code', async () => {
    const put = ok(await s.client.callTool({ name: 'remember', arguments: { frame: frame('stdio/one', { tags: ['t'] }) } }))
    const got = ok(await s.client.callTool({ name: 'recall', arguments: { id: 'stdio/one' } }))
    assert.equal(got.cid, put.cid)
    const found = ok(await s.client.callTool({ name: 'search', arguments: { tag: 't' } }))
    assert.deepEqual(found.frames.map((f: { id: string }) => f.id), ['stdio/one'])
    assert.equal(errorCode(await s.client.callTool({ name: 'recall', arguments: { id: '' } })), 'ERR_USAGE')
    assert.equal(errorCode(await s.client.callTool({ name: 'recall', arguments: { id: 'missing' } })), 'ERR_FRAME_NOT_FOUND')
    assert.equal(errorCode(await s.client.callTool({ name: 'remember', arguments: { frame: { id: 'x' } } })), 'ERR_USAGE')
  })

  test('resources: read a frame, a subscription gets resources/updated after a write', async () => {
    ok(await s.client.callTool({ name: 'remember', arguments: { frame: frame('stdio/one', { tags: ['t'] }) } }))
    const read = await s.client.readResource({ uri: frameUri('stdio/one') })
    assert.equal(JSON.parse((read.contents[0] as { text: string }).text).id, 'stdio/one')
    const uri = frameUri('stdio/one')
    await s.client.subscribeResource({ uri })
    const updated = updatedOnce(s.client, uri)
    ok(await s.client.callTool({ name: 'remember', arguments: { frame: frame('stdio/one', { title: 'changed' }) } }))
    assert.equal(await updated, uri)

    const session = sessionUri('stdio/session')
    await s.client.subscribeResource({ uri: session })
    const stepped = updatedOnce(s.client, session)
    ok(await s.client.callTool({ name: 'trace_append', arguments: { session: 'stdio/session', step: { op: 'thought', content: 'x' } } }))
    assert.equal(await stepped, session)
  })

  test('snapshot_export writes a CAR whose root it returns, and never overwrites a file', async () => {
    ok(await s.client.callTool({ name: 'remember', arguments: { frame: frame('stdio/snap') } }))
    ok(await s.client.callTool({ name: 'commit', arguments: { message: 'first' } }))
    const out = join(dir, 'snap.car')
    const r = ok(await s.client.callTool({ name: 'snapshot_export', arguments: { ref: 'HEAD', output: out } }))
    assert.equal(r.output, out)
    assert.equal((await stat(out)).size, r.bytes)
    const car = await CarReader.fromBytes(await readFile(out))
    assert.deepEqual((await car.getRoots()).map(c => c.toString()), [r.root])
    assert.equal(errorCode(await s.client.callTool({ name: 'snapshot_export', arguments: { ref: 'HEAD', output: out } })), 'ERR_FILE_WRITE')
    assert.equal(errorCode(await s.client.callTool({ name: 'snapshot_export', arguments: { ref: 'HEAD', output: join(dir, 'no', 'such', 'dir.car') } })), 'ERR_FILE_NOT_FOUND')
  })

  test('stdout carries only the protocol, and the server exits when the client closes', async (t) => {
    // A server of its own, since it is closed here: on a repository of its own, after some calls.
    const own = join(dir, 'own')
    await seedRepo(own)
    const o = await serve(own)
    t.after(async () => { await o.client.close().catch(() => {}) })
    const put = ok(await o.client.callTool({ name: 'remember', arguments: { frame: frame('stdio/own') } }))
    assert.equal(ok(await o.client.callTool({ name: 'recall', arguments: { id: 'stdio/own' } })).cid, put.cid)
    assert.equal(errorCode(await o.client.callTool({ name: 'recall', arguments: { id: 'missing' } })), 'ERR_FRAME_NOT_FOUND')
    assert.deepEqual(o.errors.map(e => e.message), [])
    const pid = o.transport.pid
    assert.ok(pid != null)
    await o.client.close()
    // The repository is free again: the CLI opens it.
    const ls = await runCli(['--repo', own, 'frame', 'ls', '--json'])
    assert.equal(ls.code, 0, ls.stderr)
    assert.equal(o.stderr(), '')
  })
})

test('framehub mcp on a repository that does not exist: a clear error and exit code, nothing on stdout', async () => {
  const { dir, cleanup } = await tempDir('framehub-mcp-missing-')
  try {
    const r = await runCli(['--repo', join(dir, 'nothing-here'), 'mcp'], { input: '' })
    assert.notEqual(r.code, 0)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /ERR_REPO_NOT_FOUND/)
  } finally {
    await cleanup()
  }
})

describe('framehub mcp (stdio) through a running daemon', () => {
  let cleanup: () => Promise<void>
  let daemon: DaemonProcess
  let s: Served
  before(async () => {
    const t = await tempDir('framehub-mcp-daemon-')
    cleanup = t.cleanup
    const repo = join(t.dir, 'repo')
    assert.equal((await runCli(['--repo', repo, 'init'])).code, 0)
    daemon = await startDaemonProcess(repo)
    s = await serve(repo)
  })
  after(async () => {
    await s.client.close().catch(() => {})
    await daemon.stop()
    await cleanup()
  })

  test('tool calls reach the daemon\'s services (the repository stays the daemon\'s)', async () => {
    const put = ok(await s.client.callTool({ name: 'remember', arguments: { frame: frame('via/daemon') } }))
    const res = await fetch(new URL('/api/v1/frames/by-id/via%2Fdaemon', daemon.info.url))
    assert.equal(res.status, 200)
    assert.equal((await res.json() as { cid: string }).cid, put.cid)
    assert.equal(errorCode(await s.client.callTool({ name: 'recall', arguments: { id: 'nothing/here' } })), 'ERR_FRAME_NOT_FOUND')
  })

  test('a write made by another client of the daemon reaches a subscription (the daemon\'s event stream)', async () => {
    const uri = frameUri('shared/note')
    await s.client.subscribeResource({ uri })
    const token = (await daemon.cli(['config', '--json'])).json.apiToken as string
    assert.equal(typeof token, 'string')
    const updated = updatedOnce(s.client, uri)
    // The stream may open a moment after the subscription: write until the notification comes.
    let done = false
    void updated.finally(() => { done = true }).catch(() => {})
    for (let i = 0; i < 50 && !done; i++) {
      const res = await fetch(new URL('/api/v1/frames', daemon.info.url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(frame('shared/note', { body: i })) })
      assert.equal(res.status, 201)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    assert.equal(await updated, uri)
    assert.deepEqual(s.errors.map(e => e.message), [])
  })
})
