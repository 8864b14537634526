/**
 * framehub as a Model Context Protocol server: the tools and resources an agent sees, over the
 * node's services. The same definition serves the stdio entry (`framehub mcp`, see stdio.ts) and
 * each session of the gateway's Streamable HTTP endpoint (`/mcp`, see http.ts); it only knows
 * `McpNode`, which a node opened in-process (`createNode`) and a daemon's client (`connectNode`)
 * both are.
 */
import { readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { CallToolRequestSchema, ErrorCode, ListResourcesRequestSchema, ListToolsRequestSchema, McpError, SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult, Resource, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import * as z from 'zod'
import type { CID } from 'multiformats/cid'
import { parseCid } from '../core/cid.ts'
import { toJsonView } from '../core/json-view.ts'
import { FileNotFoundError, FileWriteError, FramehubError, isFramehubError, UsageError } from '../core/errors.ts'
import type { Frame as FrameJson, TraceStep as TraceStepJson } from '../core/schema-types.ts'
import type { NodeServices } from '../node.ts'
import type { NodeEvent } from '../services/events.ts'
import { branchView, changeView, frameHistoryView, frameRecordView } from '../services/views.ts'

/** The services the MCP server uses: those of `NodeServices`, in-process or through a daemon. */
export type McpNode = Pick<NodeServices, 'peerId' | 'frames' | 'refs' | 'commits' | 'traces' | 'snapshots' | 'consensus' | 'events'>

/** How an MCP server is set up. */
export interface McpServerInit {
  /** The version the server reports in `initialize` (default: framehub's, from its package.json). */
  version?: string
  /**
   * Let `snapshot_export` write a CAR file on this machine (`output`). True for the stdio server
   * (the agent's own machine); false over HTTP, where a path would name a file of the daemon's host.
   */
  fileOutput?: boolean
  /** Most resource subscriptions one client holds (default 1024). */
  maxSubscriptions?: number
  /** Coalesce `notifications/resources/list_changed` over this many ms (default 200). */
  listChangedMs?: number
}

/** An MCP server bound to a node; `close` ends its event subscription and its transport. */
export interface FramehubMcpServer {
  readonly server: McpServer
  close (): Promise<void>
}

/** The prefix of a frame resource; the id follows, percent-encoded (`/` is `%2F`). */
export const FRAME_URI = 'framehub://frame/'
/** The prefix of a session resource; the name follows, percent-encoded. */
export const SESSION_URI = 'framehub://session/'

/** A URI path segment: everything reserved escaped, `,` too (a template variable stops there). */
const uriSegment = (text: string): string => encodeURIComponent(text).replace(/,/g, '%2C')
export const frameUri = (id: string): string => FRAME_URI + uriSegment(id)
export const sessionUri = (name: string): string => SESSION_URI + uriSegment(name)

/** What a CID's text can look like (see `recall`). */
const CID_TEXT = /^[A-Za-z0-9]+$/

/** Frames and sessions per page of `resources/list`. */
const RESOURCE_PAGE = 100
/** Steps a session resource holds at most (the `trace_show` tool pages further). */
const SESSION_STEPS = 1000
/** MCP's "resource not found" (the spec's -32002). */
const RESOURCE_NOT_FOUND = -32002

// ---------------------------------------------------------------------------------------------
// Schemas of the tools: inputs checked here (ERR_USAGE), outputs checked by clients.

const cid = z.string().describe('A CID (base32 CIDv1, e.g. bafyrei...)')
const ref = z.string().min(1).max(1024).describe('Branch, commit CID, `HEAD`, `HEAD~N` or tree CID')
const session = z.string().min(1).max(256).describe('Session name, e.g. agent-7/task-42')
const link = z.object({ '/': z.string() }).describe('An IPLD link: {"/": "<CID>"}')

/**
 * A JSON object that a tool's schema checks as an object only, typed as the JSON view it is (a
 * frame, a trace step: src/core/schema-types.ts), so that a tool answers what the HTTP API does,
 * made by the same view (services/views.ts).
 */
const jsonView = <T>(description?: string): z.ZodType<T, T> => {
  const object = z.record(z.string(), z.unknown())
  return (description != null ? object.describe(description) : object) as unknown as z.ZodType<T, T>
}

// The frame record of the HTTP API (schemas/api/frame-record.schema.json).
const frameRecord = z.object({
  id: z.string(),
  cid,
  frame: jsonView<FrameJson>('The frame (DAG-JSON view: links as {"/": cid})'),
  confirmed: z.boolean().optional().describe('Only when read by id on a shared/* branch on which consensus has decided: whether the canonical head holds this version (false: a shadow frame, unconfirmed by the network)')
})

const frameInput = z.looseObject({
  id: z.string().min(1).max(512).describe("Stable logical id, '/'-separated segments, e.g. physics/gravity"),
  kind: z.string().min(1).describe('What sort of knowledge: fact, note, plan, observation, ...'),
  title: z.string().optional(),
  body: z.unknown().optional().describe('Any JSON value'),
  tags: z.array(z.string()).optional().describe('Labels (stored sorted, without duplicates)'),
  links: z.array(z.looseObject({ cid: link })).optional().describe('Links to other frames by CID: [{"cid": {"/": cid}, "rel"?: name}]')
}).describe('A frame; the full schema is framehub\'s frame.schema.json (unknown fields are refused)')

const stepRecord = z.object({ cid, step: jsonView<TraceStepJson>() })
const change = z.object({ id: z.string(), before: cid.nullable(), after: cid.nullable() })
const branchInfo = z.object({ name: z.string(), commit: cid, current: z.boolean() })

const tools = {
  remember: {
    title: 'Remember a frame',
    description: 'Store a frame (a unit of knowledge) and stage it on a branch (default: the current one). Returns its CID. Writing an id again stages the new version; older versions stay in the history. Use `commit` to record the staged frames.',
    input: z.object({
      frame: frameInput,
      branch: z.string().min(1).max(256).optional().describe('Branch to stage on (default: the current branch)'),
      ifMatch: cid.nullable().optional().describe('Write only if the frame\'s current version is this CID (the one you read); null: only if the id is new. Otherwise ERR_CONFLICT and nothing is written')
    }),
    output: z.object({ id: z.string(), cid, branch: z.string().optional() }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false }
  },
  recall: {
    title: 'Recall a frame',
    description: 'Read one frame by its id (in the working tree, or at `ref`: a branch, commit or tree) or by its CID (any version ever stored).',
    input: z.object({
      id: z.string().min(1).max(512).describe('Frame id, or the CID of a frame version'),
      ref: ref.optional(),
      byId: z.boolean().optional().describe('Treat `id` as an id even if it parses as a CID')
    }),
    output: frameRecord,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
  },
  search: {
    title: 'Search frames',
    description: 'List frames of the working tree (or `ref`), filtered by kind, tag, id prefix and words of the title and body (`q`: every word must occur). Pages with `cursor`.',
    input: z.object({
      q: z.string().max(1024).optional().describe('Words that must all occur in the title or body (case-insensitive)'),
      kind: z.string().max(256).optional(),
      tag: z.string().max(256).optional(),
      prefix: z.string().max(512).optional().describe('Only ids starting with this'),
      ref: ref.optional(),
      limit: z.number().int().min(1).max(1000).default(20),
      cursor: z.string().max(512).optional().describe('The `cursor` of the previous page')
    }),
    output: z.object({ frames: z.array(frameRecord), cursor: z.string().nullable().describe('Pass it back for the next page; null at the end') }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
  },
  history: {
    title: 'History of a frame',
    description: 'Every version of a frame on a branch (or under a commit), newest first: the commit, its author node, time and message, the frame\'s CID (null where removed), and the trace steps whose outputs name that version (why it was written).',
    input: z.object({
      id: z.string().min(1).max(512).describe('Frame id'),
      ref: ref.optional().describe('A branch (default: the current one), or a commit / HEAD~N to read from'),
      limit: z.number().int().min(1).max(1000).default(50).describe('At most this many versions')
    }),
    output: z.object({
      id: z.string(),
      branch: z.string().nullable(),
      head: cid.nullable(),
      staged: z.object({ cid: cid.nullable(), steps: z.array(stepRecord) }).nullable().describe('A version staged on the branch, not yet committed'),
      versions: z.array(z.object({ commit: cid, author: z.string(), time: z.number(), message: z.string(), cid: cid.nullable(), steps: z.array(stepRecord) })),
      stepsComplete: z.boolean().describe('False when the search for the steps behind the versions stopped at its bound')
    }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
  },
  commit: {
    title: 'Commit',
    description: 'Record the staged frames of the current branch as a signed commit (with the heads of the sessions that wrote them).',
    input: z.object({
      message: z.string().min(1).max(65536),
      allowEmpty: z.boolean().optional().describe('Commit even if nothing changed')
    }),
    output: z.object({ commit: cid, tree: cid, branch: z.string(), parents: z.array(cid), sessions: z.array(cid) }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false }
  },
  diff: {
    title: 'Diff',
    description: 'Frames added, removed and changed from `a` to `b` (branches, commits or trees; default: HEAD to the working tree).',
    input: z.object({ a: ref.optional(), b: ref.optional() }),
    output: z.object({ added: z.array(change), removed: z.array(change), changed: z.array(change) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
  },
  branch: {
    title: 'Branches',
    description: 'Without `name`: list the branches. With `name`: create a branch at HEAD (or `start`), which is refused if it exists.',
    input: z.object({
      name: z.string().min(1).max(256).optional(),
      start: ref.optional().describe('Where a new branch starts (default HEAD)')
    }),
    output: z.object({ branches: z.array(branchInfo), created: branchInfo.optional() }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false }
  },
  checkout: {
    title: 'Check out a branch',
    description: 'Switch the current branch (each branch keeps its own staged frames; nothing is lost).',
    input: z.object({ branch: z.string().min(1).max(256), create: z.boolean().optional().describe('Create it at HEAD first') }),
    output: z.object({ branch: z.string(), commit: cid.nullable() }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false }
  },
  trace_append: {
    title: 'Append a trace step',
    description: 'Sign and append a reasoning step to a session. Parents default to the session\'s head; name the frames the step read (`inputs`) and wrote (`outputs`).',
    input: z.object({
      session,
      step: z.looseObject({
        op: z.string().min(1).describe('thought, action, observation, conclusion, ...'),
        content: z.unknown().describe('Any JSON value'),
        inputs: z.array(link).optional().describe('Frames the step read'),
        outputs: z.array(link).optional().describe('Frames the step wrote')
      }),
      parents: z.array(cid).max(4096).optional()
    }),
    output: z.object({ cid, session: z.string(), parents: z.array(cid), heads: z.array(cid) }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false }
  },
  trace_show: {
    title: 'Show a session',
    description: 'The steps of a session in causal order (parents first).',
    input: z.object({ session, limit: z.number().int().min(1).max(10000).default(200) }),
    output: z.object({ session: z.string(), steps: z.array(stepRecord), truncated: z.boolean() }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
  },
  trace_routes: {
    title: 'Routes of a session',
    description: 'The distinct routes of a session, each a list of step CIDs from a head back to a root.',
    input: z.object({ session, limit: z.number().int().min(1).max(10000).default(100) }),
    output: z.object({ session: z.string(), routes: z.array(z.array(cid)) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
  },
  consensus_head: {
    title: 'Canonical head of a shared branch',
    description: 'The head the network\'s consensus rule picks for a shared/* branch from the heads its voting nodes propose: the head, the decision record, the proposals and their weights, convergence and conflict rate, and the frames kept as forks. Records the decision (deterministic: the same proposals give the same head).',
    input: z.object({ branch: z.string().min(1).max(256).describe('A shared/* branch') }),
    output: z.object({
      branch: z.string(),
      head: cid.describe('The canonical head (a commit)'),
      decision: cid.describe('The decision record'),
      proposals: z.array(z.object({ node: z.string(), head: cid, weight: z.number() })),
      convergence: z.number().describe('How far the proposals agree, 0 to 1'),
      conflictRate: z.number(),
      forks: z.array(z.object({ id: z.string(), ours: cid.nullable(), theirs: cid.nullable() }))
    }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false }
  },
  snapshot_export: {
    title: 'Export a snapshot',
    description: 'Everything reachable from a commit, tree, frame or step as a CAR v1 (deterministic): returns its root CID, block count and size.',
    input: z.object({
      ref: z.string().min(1).max(1024).describe('A CID, or a branch / HEAD'),
      output: z.string().min(1).max(4096).optional().describe('Write the CAR to this new file (stdio server only; an existing file is refused)')
    }),
    output: z.object({ root: cid, blocks: z.number().int(), bytes: z.number().int(), output: z.string().optional() }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
  }
} satisfies Record<string, { title: string, description: string, input: z.ZodObject, output: z.ZodObject, annotations: ToolAnnotations }>

/** What an error result's `structuredContent` holds (every output schema admits it). */
const ERROR_SCHEMA = {
  type: 'object',
  description: 'An error result (isError): the framehub error code, its message and details',
  required: ['code', 'message'],
  additionalProperties: false,
  properties: {
    code: { type: 'string', pattern: '^ERR_[A-Z0-9_]+$', description: 'Stable framehub error code (README: error codes)' },
    message: { type: 'string' },
    details: { type: 'object' }
  }
} as const

/** A zod schema as the JSON Schema (draft-07, as MCP clients' validators read it) of a tool's input or output object. */
function jsonSchema (schema: z.ZodObject, io: 'input' | 'output'): { type: 'object', [k: string]: unknown } {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io })
  return { ...rest, type: 'object' }
}

type Tools = typeof tools
type ToolName = keyof Tools
type Handlers = { [K in ToolName]: (args: z.output<Tools[K]['input']>, signal: AbortSignal) => Promise<z.input<Tools[K]['output']>> }

// ---------------------------------------------------------------------------------------------

/** A frame record as the HTTP API answers it (its frame a plain JSON object, as the tool's schema says). */
const cids = (list: readonly CID[]): string[] => list.map(c => c.toString())

/** Opaque page cursors: a kind (frames, sessions) and the last key given. */
const encodeCursor = (kind: 'f' | 's', after: string): string => Buffer.from(JSON.stringify([kind, after])).toString('base64url')
function decodeCursor (text: string): ['f' | 's', string] {
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown
    if (Array.isArray(v) && v.length === 2 && (v[0] === 'f' || v[0] === 's') && typeof v[1] === 'string') return v as ['f' | 's', string]
  } catch {}
  throw new UsageError(`cursor "${text.slice(0, 64)}" is not one this server gave`)
}

let version: string | undefined
/** framehub's version (one small read, the first time). */
function packageVersion (): string {
  try {
    version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0'
  } catch {
    version = '0.0.0'
  }
  return version
}

/** A tool's error result: the framehub code in the text and in the structured content. */
export function toolError (err: unknown): CallToolResult {
  const e = isFramehubError(err)
    ? err
    : err instanceof Error && err.name === 'AbortError'
      ? new FramehubError('ERR_TIMEOUT', 'the request was cancelled')
      : new FramehubError('ERR_INTERNAL', err instanceof Error ? err.message : String(err))
  const structured: Record<string, unknown> = { code: e.code, message: e.message }
  if (e.details != null) structured.details = e.details
  return { isError: true, content: [{ type: 'text', text: `${e.code}: ${e.message}` }], structuredContent: structured }
}

/** The tools' work, over the node's services. */
function handlers (node: McpNode, init: McpServerInit): Handlers {
  return {
    remember: async ({ frame, branch, ifMatch }, signal) => {
      const r = await node.frames.put(frame, { branch, source: 'mcp', ifMatch: ifMatch == null ? ifMatch : parseCid(ifMatch, 'ifMatch'), signal })
      return { id: r.id, cid: r.cid.toString(), ...(branch != null ? { branch } : {}) }
    },
    // Only letters and digits can spell a CID in the bases framehub writes and reads (base32,
    // base36, base58btc): any other id is read as an id without trying it as a CID first (a failed
    // CID parse costs more than the read).
    recall: async ({ id, ref, byId }, signal) => frameRecordView(await node.frames.get(id, { ref, byId: byId ?? !CID_TEXT.test(id), signal })),
    search: async ({ q, kind, tag, prefix, ref, limit, cursor }, signal) => {
      const after = cursor != null ? decodeCursor(cursor)[1] : undefined
      const frames: Array<z.infer<typeof frameRecord>> = []
      let more = false
      for await (const r of node.frames.list({ q, kind, tag, prefix, ref, after, limit: limit + 1, signal })) {
        if (frames.length >= limit) { more = true; break }
        frames.push(frameRecordView(r))
      }
      const last = frames.at(-1)
      return { frames, cursor: more && last != null ? encodeCursor('f', last.id) : null }
    },
    history: async ({ id, ref, limit }, signal) => frameHistoryView(await node.frames.history(id, { ref, limit, signal })),
    commit: async ({ message, allowEmpty }, signal) => {
      const r = await node.commits.commit({ message, allowEmpty, signal })
      return { commit: r.commit.toString(), tree: r.tree.toString(), branch: r.branch, parents: cids(r.parents), sessions: cids(r.sessions) }
    },
    diff: async ({ a, b }, signal) => {
      const r = await node.commits.diff(a, b, { signal })
      return { added: r.added.map(changeView), removed: r.removed.map(changeView), changed: r.changed.map(changeView) }
    },
    branch: async ({ name, start }) => {
      if (name == null) {
        if (start != null) throw new UsageError('`start` needs `name` (the branch to create)')
        return { branches: (await node.refs.listBranches()).map(branchView) }
      }
      const created = branchView(await node.refs.createBranch(name, start))
      return { branches: (await node.refs.listBranches()).map(branchView), created }
    },
    checkout: async ({ branch, create }) => {
      const r = await node.refs.checkout(branch, { create })
      return { branch: r.branch, commit: r.commit?.toString() ?? null }
    },
    trace_append: async ({ session, step, parents }, signal) => {
      const r = await node.traces.append(session, step, { parents: parents?.map(p => parseCid(p, 'parent')), signal })
      return { cid: r.cid.toString(), session: r.session, parents: cids(r.parents), heads: cids(r.heads) }
    },
    trace_show: async ({ session, limit }, signal) => {
      const steps: Array<z.infer<typeof stepRecord>> = []
      let truncated = false
      for await (const r of node.traces.show(session, { signal })) {
        if (steps.length >= limit) { truncated = true; break }
        steps.push({ cid: r.cid.toString(), step: toJsonView(r.step) as TraceStepJson })
      }
      return { session, steps, truncated }
    },
    trace_routes: async ({ session, limit }, signal) => {
      const routes = await node.traces.routes(session, { limit, signal })
      return { session, routes: routes.map(cids) }
    },
    consensus_head: async ({ branch }, signal) => {
      const d = await node.consensus.show(branch, { signal })
      return {
        branch: d.branch,
        head: d.head,
        decision: d.decision,
        proposals: d.proposals.map(p => ({ node: p.node, head: p.head, weight: p.weight })),
        convergence: d.convergence,
        conflictRate: d.conflictRate,
        forks: d.forks.map(f => ({ id: f.id, ours: f.ours, theirs: f.theirs }))
      }
    },
    snapshot_export: async ({ ref, output }, signal) => {
      if (output != null && init.fileOutput !== true) throw new UsageError('`output` is not available over HTTP: the file would be written on the daemon\'s host; fetch the CAR from /ipfs/{root}?format=car instead')
      // Opened first: a path that cannot be written fails before the DAG is walked.
      const file = output != null ? await createFile(output) : undefined
      const root = await node.snapshots.resolveRoot(ref, { signal })
      const { car, stats } = node.snapshots.exportCar(root, { signal })
      try {
        for await (const chunk of car) await file?.write(chunk)
        await file?.close()
      } catch (err) {
        await file?.close().catch(() => {})
        throw err
      }
      return { root: stats.root.toString(), blocks: stats.blocks, bytes: stats.bytes, ...(output != null ? { output } : {}) }
    }
  }
}

/** A new file for writing; an existing one is refused (a tool call never overwrites a file). */
async function createFile (path: string): Promise<{ write: (chunk: Uint8Array) => Promise<unknown>, close: () => Promise<void> }> {
  try {
    const handle = await open(path, 'wx')
    return { write: async (chunk) => await handle.write(chunk), close: async () => { await handle.close() } }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new FileNotFoundError(`cannot create ${path}: its directory does not exist`, { path })
    if (code === 'EEXIST') throw new FileWriteError(`${path} exists: snapshot_export writes only new files`, { path })
    throw new FileWriteError(`cannot create ${path}: ${(err as Error).message}`, { path })
  }
}

/**
 * A new MCP server over `node`: the tools above, frames and sessions as resources, and change
 * notifications from the node's events. Not connected: the caller connects it to a transport.
 */
export function createMcpServer (node: McpNode, init: McpServerInit): FramehubMcpServer {
  const server = new McpServer({ name: 'framehub', version: init.version ?? packageVersion() }, {
    instructions: 'framehub is a versioned, content-addressed memory. `remember` frames (id, kind, title, body, tags, links), `recall` and `search` them, `commit` what is staged; record reasoning with `trace_append`. Frames are resources at framehub://frame/{id}, sessions at framehub://session/{name}.'
  })
  const run = handlers(node, init)

  // framehub answers tools/list and tools/call itself, not through the SDK's registerTool: an error
  // result carries its code in `structuredContent`, which clients (the SDK's own among them)
  // check against the output schema even for errors, so each output schema admits the error shape
  // beside the tool's result; and the SDK answers a bad argument without a code, where framehub
  // checks arguments with the same schemas (ERR_USAGE). Errors of the services are tool errors
  // carrying their code, never a failed request.
  server.server.registerCapabilities({ tools: { listChanged: false } })
  // An argument the tool does not know (a misspelt `query` for `q`) is refused, not ignored.
  const strictInputs = Object.fromEntries(Object.entries(tools).map(([name, tool]) => [name, tool.input.strict() as z.ZodObject])) as Record<ToolName, z.ZodObject>
  const listed = Object.entries(tools).map(([name, tool]) => {
    const annotations = name === 'snapshot_export' && init.fileOutput === true
      ? { ...tool.annotations, readOnlyHint: false, destructiveHint: false, idempotentHint: false }
      : tool.annotations
    return { name, title: tool.title, description: tool.description, inputSchema: jsonSchema(strictInputs[name as ToolName], 'input'), outputSchema: { type: 'object' as const, anyOf: [jsonSchema(tool.output, 'output'), ERROR_SCHEMA] }, annotations }
  })
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }))
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const name = request.params.name
    if (!Object.hasOwn(tools, name)) throw new McpError(ErrorCode.InvalidParams, `unknown tool "${name}" (tools: ${Object.keys(tools).join(', ')})`)
    const parsed = strictInputs[name as ToolName].safeParse(request.params.arguments ?? {})
    if (!parsed.success) return toolError(new UsageError(`${name}: invalid arguments: ${z.prettifyError(parsed.error).replace(/\n+/g, '; ')}`))
    try {
      const structured = await (run[name as ToolName] as (args: unknown, signal: AbortSignal) => Promise<Record<string, unknown>>)(parsed.data, extra.signal)
      return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured }
    } catch (err) {
      return toolError(err)
    }
  })

  registerResources(server, node)
  const subscriptions = new Set<string>()
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } })
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    const uri = request.params.uri
    if (!uri.startsWith(FRAME_URI) && !uri.startsWith(SESSION_URI)) throw new McpError(ErrorCode.InvalidParams, `cannot subscribe to ${uri}: framehub's resources are ${FRAME_URI}{id} and ${SESSION_URI}{name}`, { code: 'ERR_USAGE' })
    if (!subscriptions.has(uri) && subscriptions.size >= (init.maxSubscriptions ?? 1024)) throw new McpError(ErrorCode.InvalidParams, `this client already holds ${subscriptions.size} subscriptions`, { code: 'ERR_OVERLOADED' })
    subscriptions.add(uri)
    return {}
  })
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.delete(request.params.uri)
    return {}
  })

  const stopEvents = notifyChanges(server, node, subscriptions, init.listChangedMs ?? 200)
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    stopEvents()
    await server.close()
  }
  // The transport ending (stdin closed, HTTP session deleted) ends the subscription too.
  server.server.onclose = () => { void close() }
  return { server, close }
}

/** Frames and sessions as resources: templates, reads, and a paged list. */
function registerResources (server: McpServer, node: McpNode): void {
  server.registerResource('frame', new ResourceTemplate(`${FRAME_URI}{id}`, { list: undefined }), {
    title: 'Frame',
    description: 'A frame of the working tree by id (percent-encoded: physics%2Fgravity), as {id, cid, frame}',
    mimeType: 'application/json'
  }, async (uri, variables) => {
    const id = decodeVariable(variables.id, uri)
    try {
      const r = await node.frames.get(id, { byId: true })
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(frameRecordView(r)) }] }
    } catch (err) {
      throw resourceError(err, uri)
    }
  })
  server.registerResource('session', new ResourceTemplate(`${SESSION_URI}{name}`, { list: undefined }), {
    title: 'Reasoning session',
    description: `A session's heads and its steps in causal order (the first ${SESSION_STEPS}), as {session, heads, steps, truncated}`,
    mimeType: 'application/json'
  }, async (uri, variables) => {
    const name = decodeVariable(variables.name, uri)
    try {
      const heads = await node.traces.heads(name)
      const steps: Array<{ cid: string, step: unknown }> = []
      let truncated = false
      for await (const r of node.traces.show(name)) {
        if (steps.length >= SESSION_STEPS) { truncated = true; break }
        steps.push({ cid: r.cid.toString(), step: toJsonView(r.step) })
      }
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ session: name, heads: cids(heads), steps, truncated }) }] }
    } catch (err) {
      throw resourceError(err, uri)
    }
  })

  // The SDK's list handler has no pages; a repository holds millions of frames: frames of the
  // working tree by id, then sessions by name, RESOURCE_PAGE at a time.
  server.server.removeRequestHandler('resources/list')
  server.server.setRequestHandler(ListResourcesRequestSchema, async (request, extra) => {
    const [kind, after] = request.params?.cursor != null ? decodeCursorOrInvalid(request.params.cursor) : ['f' as const, undefined]
    const resources: Resource[] = []
    try {
      if (kind === 'f') {
        for await (const r of node.frames.list({ after, limit: RESOURCE_PAGE + 1, signal: extra.signal })) {
          if (resources.length >= RESOURCE_PAGE) return { resources, nextCursor: encodeCursor('f', (resources.at(-1) as Resource).name) }
          resources.push({ uri: frameUri(r.id), name: r.id, title: r.frame.title ?? undefined, description: `${r.frame.kind} frame ${r.cid.toString()}`, mimeType: 'application/json' })
        }
      }
      const sessionsAfter = kind === 's' ? after : undefined
      for await (const s of node.traces.sessions()) {
        if (sessionsAfter != null && Buffer.compare(Buffer.from(s.session), Buffer.from(sessionsAfter)) <= 0) continue
        if (resources.length >= RESOURCE_PAGE) return { resources, nextCursor: encodeCursor('s', (resources.at(-1) as Resource).name) }
        resources.push({ uri: sessionUri(s.session), name: s.session, description: `reasoning session (${s.heads.length} head${s.heads.length === 1 ? '' : 's'})`, mimeType: 'application/json' })
      }
    } catch (err) {
      throw resourceError(err)
    }
    return { resources }
  })
}

function decodeCursorOrInvalid (text: string): ['f' | 's', string] {
  try {
    return decodeCursor(text)
  } catch (err) {
    throw new McpError(ErrorCode.InvalidParams, (err as Error).message, { code: 'ERR_USAGE' })
  }
}

function decodeVariable (value: string | string[] | undefined, uri: URL): string {
  try {
    if (typeof value === 'string') return decodeURIComponent(value)
  } catch {}
  throw new McpError(ErrorCode.InvalidParams, `${uri.href} does not name a frame or session (percent-encode the id)`, { code: 'ERR_USAGE' })
}

/** A service's error while reading a resource: not found is MCP's -32002, others carry their code. */
function resourceError (err: unknown, uri?: URL): McpError {
  if (err instanceof McpError) return err
  if (!isFramehubError(err)) return new McpError(ErrorCode.InternalError, err instanceof Error ? err.message : String(err), { code: 'ERR_INTERNAL' })
  const notFound = err.code === 'ERR_FRAME_NOT_FOUND' || err.code === 'ERR_SESSION_NOT_FOUND' || err.code === 'ERR_REF_NOT_FOUND'
  return new McpError(notFound ? RESOURCE_NOT_FOUND : ErrorCode.InvalidParams, err.message, { code: err.code, ...(uri != null ? { uri: uri.href } : {}) })
}

/**
 * Turns the node's events into `notifications/resources/updated` (for subscribed URIs) and a
 * coalesced `notifications/resources/list_changed`. Returns the function that stops it.
 */
function notifyChanges (server: McpServer, node: McpNode, subscriptions: Set<string>, listChangedMs: number): () => void {
  let listTimer: NodeJS.Timeout | undefined
  const listChanged = (): void => {
    if (listTimer != null) return
    listTimer = setTimeout(() => {
      listTimer = undefined
      if (server.isConnected()) server.sendResourceListChanged()
    }, listChangedMs)
    listTimer.unref()
  }
  const updated = (uri: string): void => {
    if (!subscriptions.has(uri) || !server.isConnected()) return
    server.server.sendResourceUpdated({ uri }).catch(() => {})
  }
  /** The working tree changed wholesale: every subscribed frame may have. */
  const allFrames = (): void => {
    listChanged()
    for (const uri of subscriptions) if (uri.startsWith(FRAME_URI)) updated(uri)
  }
  const onEvent = (event: NodeEvent): void => {
    switch (event.type) {
      case 'frame:put':
      case 'frame:remove': {
        const { id } = event.detail as { id: string }
        updated(frameUri(id))
        listChanged()
        break
      }
      case 'frame:import':
      case 'checkout':
      case 'snapshot:import':
        allFrames()
        break
      case 'ref:move': {
        // A commit records what was staged: the frames do not change; a merge or a moved branch may.
        if ((event.detail as { reason: string }).reason !== 'commit') allFrames()
        break
      }
      case 'step:append': {
        const { session, parents } = event.detail as { session: string, parents: string[] }
        updated(sessionUri(session))
        if (parents.length === 0) listChanged()
        break
      }
      default:
        break
    }
  }
  const unsubscribe = node.events.subscribe(onEvent)
  return () => {
    unsubscribe()
    if (listTimer != null) clearTimeout(listTimer)
  }
}
