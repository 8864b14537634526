import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError, ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { FastifyInstance } from 'fastify'
import { createGateway } from '../../src/http/app.ts'
import { frameUri, sessionUri } from '../../src/mcp/server.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'

interface Gateway { node: FramehubNode, app: FastifyInstance, url: string, token: string, dir: string }

async function startGateway (init: { maxMcpSessions?: number } = {}): Promise<Gateway> {
  const dir = await mkdtemp(join(tmpdir(), 'framehub-mcp-'))
  const node = await createNode({ repo: join(dir, 'repo'), create: true })
  const app = await createGateway(node, { logger: false, underPressure: false, rateLimit: false, ...init })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  return { node, app, url: address, token: node.repo.config.apiToken, dir }
}

async function stopGateway (g: Gateway): Promise<void> {
  await g.app.close()
  await g.node.close()
  await rm(g.dir, { recursive: true, force: true })
}

async function connect (g: Gateway, name = 'framehub-test'): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name, version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', g.url), { requestInit: { headers: { authorization: `Bearer ${g.token}` } } })
  await client.connect(transport)
  return { client, transport }
}

/** The structured content of a successful call (fails the test on an error result). */
function ok (result: unknown): Record<string, any> {
  const r = result as CallToolResult
  assert.notEqual(r.isError, true, `tool error: ${JSON.stringify(r.content)}`)
  assert.ok(r.structuredContent != null)
  // The same JSON as text, for clients that read only content.
  assert.deepEqual(JSON.parse((r.content[0] as { text: string }).text), r.structuredContent)
  return r.structuredContent as Record<string, any>
}

/** The code of an error result (and checks that the text names it). */
function errorCode (result: unknown): string {
  const r = result as CallToolResult
  assert.equal(r.isError, true, `expected an error result, got ${JSON.stringify(r.structuredContent)}`)
  const code = (r.structuredContent as { code?: unknown } | undefined)?.code
  assert.equal(typeof code, 'string')
  assert.match(code as string, /^ERR_[A-Z_]+$/)
  assert.ok((r.content[0] as { text: string }).text.startsWith(`${code as string}: `))
  return code as string
}

const frame = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ id, kind: 'fact', title: `title of ${id}`, body: { text: `body of ${id}` }, ...extra })

/**
 * A gateway and a client of one test's own, closed when the test ends, on a repository that
 * `seed` wrote first (through the node's services): what the test reads does not depend on what
 * another test wrote.
 */
async function gatewayFor (t: TestContext, seed: (node: FramehubNode) => Promise<void> = async () => {}): Promise<{ g: Gateway, client: Client }> {
  const g = await startGateway()
  await seed(g.node)
  const { client } = await connect(g, 'one-test')
  t.after(async () => { await client.close().catch(() => {}); await stopGateway(g) })
  return { g, client }
}

/** Resolves with the first notification `pick` accepts, or rejects after `ms`. */
function waitForNotification<T> (what: string, subscribe: (resolve: (value: T) => void) => void, ms = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no ${what} within ${ms} ms`)) }, ms)
    subscribe((value) => { clearTimeout(timer); resolve(value) })
  })
}

describe('MCP over Streamable HTTP (the SDK\'s own client against a real gateway)', () => {
  let g: Gateway
  let client: Client
  let transport: StreamableHTTPClientTransport
  before(async () => {
    g = await startGateway()
    ;({ client, transport } = await connect(g))
  })
  after(async () => {
    await client.close().catch(() => {})
    await stopGateway(g)
  })

  test('lists the tools with input and output schemas and the right hints', async () => {
    const { tools } = await client.listTools()
    const byName = new Map(tools.map(t => [t.name, t]))
    for (const name of ['remember', 'recall', 'search', 'history', 'commit', 'diff', 'branch', 'checkout', 'trace_append', 'trace_show', 'trace_routes', 'snapshot_export', 'consensus_head']) {
      const tool = byName.get(name)
      assert.ok(tool != null, `tool ${name} listed`)
      assert.equal(tool.inputSchema.type, 'object')
      assert.equal(tool.outputSchema?.type, 'object', `${name} has an output schema`)
      assert.equal(typeof tool.annotations?.readOnlyHint, 'boolean', `${name} says whether it is read-only`)
    }
    for (const name of ['recall', 'search', 'history', 'diff', 'trace_show', 'trace_routes']) assert.equal(byName.get(name)?.annotations?.readOnlyHint, true, name)
    for (const name of ['remember', 'commit', 'branch', 'checkout', 'trace_append']) {
      assert.equal(byName.get(name)?.annotations?.readOnlyHint, false, name)
      assert.equal(byName.get(name)?.annotations?.destructiveHint, false, name)
    }
    // Over HTTP the export writes no file: read-only.
    assert.equal(byName.get('snapshot_export')?.annotations?.readOnlyHint, true)
    assert.equal(byName.get('remember')?.annotations?.idempotentHint, true)
    assert.equal(byName.get('commit')?.annotations?.idempotentHint, false)
    assert.deepEqual(byName.get('recall')?.inputSchema.required, ['id'])
    assert.equal(byName.get('search')?.inputSchema.additionalProperties, false)
  })

  test('remember, then recall by id, by CID and at a ref', async () => {
    const put = ok(await client.callTool({ name: 'remember', arguments: { frame: frame('physics/gravity', { tags: ['physics'] }) } }))
    assert.equal(put.id, 'physics/gravity')
    assert.match(put.cid, /^bafy/)
    // The daemon's REST API sees the same frame (one node, one set of services).
    const rest = await fetch(new URL('/api/v1/frames/by-id/physics%2Fgravity', g.url))
    assert.equal(((await rest.json()) as { cid: string }).cid, put.cid)

    const byId = ok(await client.callTool({ name: 'recall', arguments: { id: 'physics/gravity' } }))
    assert.equal(byId.cid, put.cid)
    assert.equal(byId.frame.title, 'title of physics/gravity')
    assert.deepEqual(byId.frame.tags, ['physics'])
    const byCid = ok(await client.callTool({ name: 'recall', arguments: { id: put.cid } }))
    assert.deepEqual(byCid, byId)

    const commit = ok(await client.callTool({ name: 'commit', arguments: { message: 'gravity' } }))
    ok(await client.callTool({ name: 'remember', arguments: { frame: frame('physics/gravity', { title: 'newer' }) } }))
    const atCommit = ok(await client.callTool({ name: 'recall', arguments: { id: 'physics/gravity', ref: commit.commit } }))
    assert.equal(atCommit.cid, put.cid)
    const now = ok(await client.callTool({ name: 'recall', arguments: { id: 'physics/gravity' } }))
    assert.equal(now.frame.title, 'newer')
  })

  test('search filters by kind, tag and words, and pages with a cursor', async () => {
    for (let i = 0; i < 5; i++) ok(await client.callTool({ name: 'remember', arguments: { frame: frame(`notes/n${i}`, { kind: 'note', tags: i % 2 === 0 ? ['even'] : ['odd'], body: `orbit number ${i}` }) } }))
    const notes = ok(await client.callTool({ name: 'search', arguments: { kind: 'note', limit: 100 } }))
    assert.deepEqual(notes.frames.map((f: { id: string }) => f.id), ['notes/n0', 'notes/n1', 'notes/n2', 'notes/n3', 'notes/n4'])
    assert.equal(notes.cursor, null)
    const even = ok(await client.callTool({ name: 'search', arguments: { tag: 'even' } }))
    assert.deepEqual(even.frames.map((f: { id: string }) => f.id), ['notes/n0', 'notes/n2', 'notes/n4'])
    const words = ok(await client.callTool({ name: 'search', arguments: { q: 'orbit 3' } }))
    assert.deepEqual(words.frames.map((f: { id: string }) => f.id), ['notes/n3'])

    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = ok(await client.callTool({ name: 'search', arguments: { prefix: 'notes/', limit: 2, ...(cursor != null ? { cursor } : {}) } }))
      assert.ok(page.frames.length <= 2)
      seen.push(...page.frames.map((f: { id: string }) => f.id))
      cursor = page.cursor ?? undefined
    } while (cursor != null)
    assert.deepEqual(seen, ['notes/n0', 'notes/n1', 'notes/n2', 'notes/n3', 'notes/n4'])
  })

  test('bad input is an error result with a code, never a failed request', async () => {
    assert.equal(errorCode(await client.callTool({ name: 'recall', arguments: { id: 42 } })), 'ERR_USAGE')
    assert.equal(errorCode(await client.callTool({ name: 'recall', arguments: {} })), 'ERR_USAGE')
    assert.equal(errorCode(await client.callTool({ name: 'search', arguments: { limit: 0 } })), 'ERR_USAGE')
    // A misspelt argument is refused, not ignored.
    assert.equal(errorCode(await client.callTool({ name: 'search', arguments: { query: 'orbit' } })), 'ERR_USAGE')
    assert.equal(errorCode(await client.callTool({ name: 'search', arguments: { cursor: 'not-a-cursor' } })), 'ERR_USAGE')
    assert.equal(errorCode(await client.callTool({ name: 'recall', arguments: { id: 'no/such/frame' } })), 'ERR_FRAME_NOT_FOUND')
    assert.equal(errorCode(await client.callTool({ name: 'remember', arguments: { frame: { id: 'x', kind: 'fact', colour: 'red' } } })), 'ERR_FRAME_INVALID')
    assert.equal(errorCode(await client.callTool({ name: 'remember', arguments: { frame: { id: 'bad id', kind: 'fact' } } })), 'ERR_FRAME_INVALID')
    assert.equal(errorCode(await client.callTool({ name: 'recall', arguments: { id: 'physics/gravity', ref: 'no-such-branch' } })), 'ERR_REF_NOT_FOUND')
    assert.equal(errorCode(await client.callTool({ name: 'trace_show', arguments: { session: 'bad session' } })), 'ERR_TRACE_STEP_INVALID')
    assert.equal(errorCode(await client.callTool({ name: 'trace_append', arguments: { session: 's', step: { op: 'thought', content: 1 }, parents: ['nope'] } })), 'ERR_CID_INVALID')
    const refused = await client.callTool({ name: 'snapshot_export', arguments: { ref: 'HEAD', output: join(tmpdir(), 'never.car') } }) as CallToolResult
    assert.equal(errorCode(refused), 'ERR_USAGE')
    assert.match((refused.content[0] as { text: string }).text, /over HTTP/)
    // An unknown tool is a protocol error (as the SDK's own server answers it).
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (err: unknown) => err instanceof McpError && /unknown tool/.test(err.message))
  })

  test('commit, diff, branch and checkout', async () => {
    ok(await client.callTool({ name: 'remember', arguments: { frame: frame('plan/a') } }))
    const d = ok(await client.callTool({ name: 'diff', arguments: {} }))
    assert.ok(d.added.some((c: { id: string, before: null }) => c.id === 'plan/a' && c.before === null))
    const c = ok(await client.callTool({ name: 'commit', arguments: { message: 'plans' } }))
    assert.match(c.commit, /^bafy/)
    assert.equal(errorCode(await client.callTool({ name: 'commit', arguments: { message: 'again' } })), 'ERR_NOTHING_TO_COMMIT')

    const created = ok(await client.callTool({ name: 'branch', arguments: { name: 'experiment' } }))
    assert.equal(created.created.name, 'experiment')
    assert.equal(created.created.commit, c.commit)
    assert.ok(created.branches.some((b: { name: string }) => b.name === 'experiment'))
    assert.equal(errorCode(await client.callTool({ name: 'branch', arguments: { name: 'experiment' } })), 'ERR_REF_EXISTS')
    const listed = ok(await client.callTool({ name: 'branch', arguments: {} }))
    assert.equal(listed.created, undefined)
    const co = ok(await client.callTool({ name: 'checkout', arguments: { branch: 'experiment' } }))
    assert.deepEqual(co, { branch: 'experiment', commit: c.commit })
    assert.ok(ok(await client.callTool({ name: 'branch', arguments: {} })).branches.find((b: { name: string, current: boolean }) => b.name === 'experiment').current)
    ok(await client.callTool({ name: 'checkout', arguments: { branch: 'main' } }))
  })

  test('history lists the versions of a frame and the steps that wrote them; ifMatch refuses a stale write', async () => {
    const v1 = ok(await client.callTool({ name: 'remember', arguments: { frame: frame('hist/x', { title: 'one' }), ifMatch: null } }))
    const step = ok(await client.callTool({ name: 'trace_append', arguments: { session: 'hist/s', step: { op: 'action', content: 'write x', outputs: [{ '/': v1.cid }] } } }))
    const c1 = ok(await client.callTool({ name: 'commit', arguments: { message: 'x one' } }))
    const v2 = ok(await client.callTool({ name: 'remember', arguments: { frame: frame('hist/x', { title: 'two' }), ifMatch: v1.cid } }))
    // Another writer that read version one loses, and is told.
    assert.equal(errorCode(await client.callTool({ name: 'remember', arguments: { frame: frame('hist/x', { title: 'three' }), ifMatch: v1.cid } })), 'ERR_CONFLICT')
    assert.equal(errorCode(await client.callTool({ name: 'remember', arguments: { frame: frame('hist/x'), ifMatch: null } })), 'ERR_CONFLICT')
    assert.equal(errorCode(await client.callTool({ name: 'remember', arguments: { frame: frame('hist/x'), ifMatch: 'not-a-cid' } })), 'ERR_CID_INVALID')
    const staged = ok(await client.callTool({ name: 'history', arguments: { id: 'hist/x' } }))
    assert.equal(staged.staged.cid, v2.cid)
    const c2 = ok(await client.callTool({ name: 'commit', arguments: { message: 'x two' } }))
    const h = ok(await client.callTool({ name: 'history', arguments: { id: 'hist/x' } }))
    assert.equal(h.id, 'hist/x')
    assert.equal(h.branch, 'main')
    assert.equal(h.head, c2.commit)
    assert.equal(h.staged, null)
    assert.deepEqual(h.versions.map((v: { cid: string }) => v.cid), [v2.cid, v1.cid])
    assert.deepEqual(h.versions.map((v: { commit: string }) => v.commit), [c2.commit, c1.commit])
    assert.equal(h.versions[1].message, 'x one')
    assert.deepEqual(h.versions[1].steps.map((s: { cid: string }) => s.cid), [step.cid])
    assert.equal(h.versions[1].steps[0].step.op, 'action')
    const one = ok(await client.callTool({ name: 'history', arguments: { id: 'hist/x', limit: 1 } }))
    assert.equal(one.versions.length, 1)
    assert.equal(errorCode(await client.callTool({ name: 'history', arguments: { id: 'no/such/frame' } })), 'ERR_FRAME_NOT_FOUND')
  })

  test('consensus_head: the canonical head of a shared branch', async (t) => {
    const { client } = await gatewayFor(t, async (node) => {
      await node.frames.put(frame('plan/a'))
      await node.commits.commit({ message: 'plans' })
    })
    ok(await client.callTool({ name: 'branch', arguments: { name: 'shared/team' } }))
    const main = ok(await client.callTool({ name: 'branch', arguments: {} })).branches.find((b: { name: string }) => b.name === 'shared/team')
    const d = ok(await client.callTool({ name: 'consensus_head', arguments: { branch: 'shared/team' } }))
    assert.equal(d.branch, 'shared/team')
    // Alone, this node's own head is the canonical one.
    assert.equal(d.head, main.commit)
    assert.match(d.decision, /^bafy/)
    assert.equal(d.proposals.length, 1)
    assert.equal(d.proposals[0].head, main.commit)
    assert.equal(errorCode(await client.callTool({ name: 'consensus_head', arguments: { branch: 'main' } })), 'ERR_USAGE')
    assert.equal(errorCode(await client.callTool({ name: 'consensus_head', arguments: { branch: 'shared/nobody' } })), 'ERR_REF_NOT_FOUND')
  })

  test('trace append, show and routes; snapshot export returns the root CID', async (t) => {
    const { client } = await gatewayFor(t, async (node) => {
      await node.frames.put(frame('plan/a'))
      await node.commits.commit({ message: 'plans' })
    })
    const target = ok(await client.callTool({ name: 'recall', arguments: { id: 'plan/a' } }))
    const s1 = ok(await client.callTool({ name: 'trace_append', arguments: { session: 'agent/run-1', step: { op: 'thought', content: 'look up the plan', inputs: [{ '/': target.cid }] } } }))
    const s2 = ok(await client.callTool({ name: 'trace_append', arguments: { session: 'agent/run-1', step: { op: 'conclusion', content: 'done' } } }))
    assert.deepEqual(s2.parents, [s1.cid])
    const shown = ok(await client.callTool({ name: 'trace_show', arguments: { session: 'agent/run-1' } }))
    assert.deepEqual(shown.steps.map((s: { cid: string }) => s.cid), [s1.cid, s2.cid])
    assert.equal(shown.steps[0].step.op, 'thought')
    assert.equal(shown.truncated, false)
    const routes = ok(await client.callTool({ name: 'trace_routes', arguments: { session: 'agent/run-1' } }))
    assert.equal(routes.routes.length, 1)
    assert.deepEqual(new Set(routes.routes[0]), new Set([s1.cid, s2.cid]))
    assert.equal(errorCode(await client.callTool({ name: 'trace_show', arguments: { session: 'no/such/session' } })), 'ERR_SESSION_NOT_FOUND')

    const snap = ok(await client.callTool({ name: 'snapshot_export', arguments: { ref: 'main' } }))
    const main = ok(await client.callTool({ name: 'branch', arguments: {} })).branches.find((b: { name: string }) => b.name === 'main')
    assert.equal(snap.root, main.commit)
    assert.ok(snap.blocks >= 3)
    assert.ok(snap.bytes > 0)
  })

  test('resources: templates, a paged list, reads, and not found', async (t) => {
    const { client } = await gatewayFor(t, async (node) => {
      await node.frames.put(frame('physics/gravity', { tags: ['physics'] }))
      await node.commits.commit({ message: 'gravity' })
      await node.frames.put(frame('physics/gravity', { title: 'newer' }))
      await node.traces.append('agent/run-1', { op: 'thought', content: 'look up the plan' })
      await node.traces.append('agent/run-1', { op: 'conclusion', content: 'done' })
    })
    const { resourceTemplates } = await client.listResourceTemplates()
    assert.deepEqual(resourceTemplates.map(t => t.uriTemplate).sort(), ['framehub://frame/{id}', 'framehub://session/{name}'])
    const uris: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await client.listResources(cursor != null ? { cursor } : {})
      uris.push(...page.resources.map(r => r.uri))
      cursor = page.nextCursor
      pages++
    } while (cursor != null && pages < 100)
    assert.ok(uris.includes(frameUri('physics/gravity')))
    assert.ok(uris.includes('framehub://frame/physics%2Fgravity'))
    assert.ok(uris.includes(sessionUri('agent/run-1')))

    const read = await client.readResource({ uri: frameUri('physics/gravity') })
    const content = read.contents[0] as { uri: string, mimeType: string, text: string }
    assert.equal(content.mimeType, 'application/json')
    const body = JSON.parse(content.text) as { id: string, cid: string, frame: { title: string } }
    assert.equal(body.id, 'physics/gravity')
    assert.equal(body.frame.title, 'newer')
    const session = JSON.parse(((await client.readResource({ uri: sessionUri('agent/run-1') })).contents[0] as { text: string }).text) as { steps: unknown[], heads: string[] }
    assert.equal(session.steps.length, 2)
    assert.equal(session.heads.length, 1)
    await assert.rejects(client.readResource({ uri: frameUri('no/such') }), (err: unknown) => err instanceof McpError && err.code === -32002 && (err.data as { code?: string }).code === 'ERR_FRAME_NOT_FOUND')
    await assert.rejects(client.listResources({ cursor: 'garbage' }), (err: unknown) => err instanceof McpError && (err.data as { code?: string }).code === 'ERR_USAGE')
  })

  test('a subscribed frame gets resources/updated after a write (also one made over REST), and the list list_changed', async () => {
    const uri = frameUri('watched/one')
    await client.subscribeResource({ uri })
    const updated = waitForNotification<string>('resources/updated', (resolve) => {
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { if (n.params.uri === uri) resolve(n.params.uri) })
    })
    const listChanged = waitForNotification<true>('resources/list_changed', (resolve) => {
      client.setNotificationHandler(ResourceListChangedNotificationSchema, () => { resolve(true) })
    })
    // Written by someone else, through the REST API: the event stream reaches every MCP session.
    const res = await fetch(new URL('/api/v1/frames', g.url), { method: 'POST', headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json' }, body: JSON.stringify(frame('watched/one')) })
    assert.equal(res.status, 201)
    assert.equal(await updated, uri)
    assert.equal(await listChanged, true)

    const session = sessionUri('watch/session')
    await client.subscribeResource({ uri: session })
    const stepped = waitForNotification<string>('session update', (resolve) => {
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { if (n.params.uri === session) resolve(n.params.uri) })
    })
    ok(await client.callTool({ name: 'trace_append', arguments: { session: 'watch/session', step: { op: 'observation', content: { seen: true } } } }))
    assert.equal(await stepped, session)
    await client.unsubscribeResource({ uri })
    await assert.rejects(client.subscribeResource({ uri: 'https://example.com/x' }), McpError)
  })

  test('the session ends with DELETE: its id is then unknown (404)', async () => {
    await g.node.frames.put(frame('physics/gravity'))
    const other = await connect(g, 'short-lived')
    const id = other.transport.sessionId
    assert.ok(id != null)
    ok(await other.client.callTool({ name: 'recall', arguments: { id: 'physics/gravity' } }))
    await other.transport.terminateSession()
    await other.client.close()
    const res = await fetch(new URL('/mcp', g.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
    })
    assert.equal(res.status, 404)
    const body = await res.json() as { jsonrpc: string, error: { code: number, data: { code: string } } }
    assert.equal(body.jsonrpc, '2.0')
    assert.equal(body.error.data.code, 'ERR_NOT_FOUND')
    assert.ok(transport.sessionId != null && transport.sessionId !== id)
  })
})

describe('MCP over HTTP: malformed and unauthorized requests', () => {
  let g: Gateway
  before(async () => { g = await startGateway({ maxMcpSessions: 2 }) })
  after(async () => { await stopGateway(g) })

  const post = async (body: string, headers: Record<string, string> = {}): Promise<Response> => await fetch(new URL('/mcp', g.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body
  })
  const initialize = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })

  test('malformed JSON is a JSON-RPC parse error (400, -32700)', async () => {
    const res = await post('{"jsonrpc": "2.0", "id": 1, "method": ')
    assert.equal(res.status, 400)
    const body = await res.json() as { jsonrpc: string, id: null, error: { code: number, message: string, data: { code: string } } }
    assert.equal(body.jsonrpc, '2.0')
    assert.equal(body.id, null)
    assert.equal(body.error.code, -32700)
    assert.equal(body.error.data.code, 'ERR_JSON_INVALID')
  })

  test('JSON that is not a JSON-RPC message is refused', async () => {
    const scalar = await post('42')
    assert.equal(scalar.status, 400)
    assert.equal((await scalar.json() as { error: { code: number } }).error.code, -32600)
    // Without a session a request other than initialize is refused.
    const noSession = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }))
    assert.equal(noSession.status, 400)
    assert.equal((await noSession.json() as { error: { data: { code: string } } }).error.data.code, 'ERR_BAD_REQUEST')
    // Inside a session, the SDK's transport checks the message's shape.
    const init = await post(initialize)
    assert.equal(init.status, 200)
    const id = init.headers.get('mcp-session-id') as string
    assert.ok(id != null && id !== '')
    const bad = await post(JSON.stringify({ jsonrpc: '1.0', method: 7 }), { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' })
    assert.equal(bad.status, 400)
    assert.ok(((await bad.json()) as { error: { code: number } }).error.code < 0)
    const gone = await fetch(new URL('/mcp', g.url), { method: 'DELETE', headers: { authorization: `Bearer ${g.token}`, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' } })
    assert.equal(gone.status, 200)
  })

  test('every method needs the bearer token', async () => {
    for (const method of ['POST', 'GET', 'DELETE']) {
      const res = await fetch(new URL('/mcp', g.url), { method, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, ...(method === 'POST' ? { body: initialize } : {}) })
      assert.equal(res.status, 401, method)
      assert.equal((await res.json() as { code: string }).code, 'ERR_UNAUTHORIZED')
    }
    const wrong = await post(initialize, { authorization: 'Bearer wrong' })
    assert.equal(wrong.status, 401)
  })

  test('the number of sessions is bounded: past it, initialize gets 503 ERR_OVERLOADED', async () => {
    const a = await connect(g, 'a')
    const b = await connect(g, 'b')
    const res = await post(initialize)
    assert.equal(res.status, 503)
    assert.equal((await res.json() as { error: { data: { code: string } } }).error.data.code, 'ERR_OVERLOADED')
    assert.ok(res.headers.get('retry-after') != null)
    // Ending one frees its place.
    await a.transport.terminateSession()
    await a.client.close()
    const c = await connect(g, 'c')
    assert.ok(c.transport.sessionId != null)
    await c.client.close()
    await b.client.close()
  })
})

test('recall answers what GET /api/v1/frames/by-id does: the same record, with `confirmed` on a shared branch consensus decided', async (t) => {
  const { g, client } = await gatewayFor(t, async (node) => {
    await node.refs.checkout('shared/team', { create: true })
    await node.frames.put(frame('c/base'))
    await node.commits.commit({ message: 'base' })
    // Alone, this node's own head is the canonical one; a frame staged since is a shadow frame.
    await node.consensus.show('shared/team')
    await node.frames.put(frame('c/staged'))
  })
  for (const [id, confirmed] of [['c/base', true], ['c/staged', false]] as const) {
    const recalled = ok(await client.callTool({ name: 'recall', arguments: { id } }))
    assert.equal(recalled.confirmed, confirmed, id)
    const rest = await fetch(new URL(`/api/v1/frames/by-id/${encodeURIComponent(id)}`, g.url))
    assert.deepEqual(recalled, await rest.json())
    const found = ok(await client.callTool({ name: 'search', arguments: { prefix: id } }))
    assert.equal('confirmed' in found.frames[0], false, 'a list does not say')
  }
  const byCid = ok(await client.callTool({ name: 'recall', arguments: { id: ok(await client.callTool({ name: 'recall', arguments: { id: 'c/base' } })).cid } }))
  assert.equal('confirmed' in byCid, false, 'read by CID')
})

test('no file of the MCP server (src/mcp) imports from src/storage: it uses the services only', async () => {
  const src = fileURLToPath(new URL('../../src/', import.meta.url))
  const reaching: string[] = []
  for (const name of await readdir(join(src, 'mcp'))) {
    const text = await readFile(join(src, 'mcp', name), 'utf8')
    for (const m of text.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const target = relative(src, join(src, 'mcp', m[1] as string))
      if ((m[1] as string).startsWith('.') && target.startsWith('storage/')) reaching.push(`${name} → ${target}`)
    }
  }
  assert.deepEqual(reaching, [])
})

test('the gateway closes while an MCP client holds its notification stream open', async () => {
  const g = await startGateway()
  const { client } = await connect(g, 'still-open')
  ok(await client.callTool({ name: 'search', arguments: {} }))
  // The SDK's client opened its GET stream after initializing; closing must not wait on it.
  await stopGateway(g)
  await client.close().catch(() => {})
})
