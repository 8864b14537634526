/**
 * MCP's Streamable HTTP transport at `/mcp` on the gateway. Every method needs the bearer token.
 * Sessions as the spec has them: an `initialize` POST without `Mcp-Session-Id` opens one (its id
 * comes back in that header), later requests name it, `DELETE /mcp` ends it; a GET opens the
 * session's stream of server notifications (resource changes). At most `maxSessions` are open;
 * one left idle past `idleMs` is closed (its client gets 404 and initializes again).
 */
import { randomUUID } from 'node:crypto'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { createMcpServer } from './server.ts'
import type { FramehubMcpServer, McpNode } from './server.ts'

export interface McpHttpInit {
  node: McpNode
  /** The gateway's bearer-token check (plugins/auth.ts). */
  auth: onRequestHookHandler
  /** The write endpoints' rate limit (per client IP), applied to POST; undefined for none. */
  rateLimit?: Record<string, unknown>
  /** Most sessions open at once; an `initialize` past it gets 503 ERR_OVERLOADED (default 64). */
  maxSessions?: number
  /** A session with no request and no open stream for this long is closed, ms (default 30 minutes). */
  idleMs?: number
  /** Largest JSON-RPC body, bytes (default: the gateway's body limit). */
  bodyLimit?: number
}

/** How many sessions are open, and how many may be. */
export interface McpSessions {
  readonly size: number
  readonly limit: number
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport
  mcp: FramehubMcpServer
  lastSeen: number
  streams: number
}

/** JSON-RPC error codes the transport answers with before a session handles a message. */
const PARSE_ERROR = -32700
const INVALID_REQUEST = -32600
/** What the SDK's own transport answers for an unknown session (with 404). */
const SESSION_NOT_FOUND = -32001
const SERVER_ERROR = -32000

const SESSION_HEADER = 'mcp-session-id'

function rpcError (reply: FastifyReply, status: number, code: number, message: string, framehubCode: string): FastifyReply {
  return reply.code(status).type('application/json').send({ jsonrpc: '2.0', error: { code, message, data: { code: framehubCode } }, id: null })
}

/**
 * The headers the SDK's transport reads (host and origin only for its own DNS-rebinding check,
 * which the gateway's host check makes unneeded). Tools here read no request headers.
 */
const TRANSPORT_HEADERS = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'] as const

/**
 * The request as the SDK's web-standard transport reads it: method, URL and the headers it reads
 * (the body, already parsed, travels beside it). The SDK's Node transport converts whole requests
 * and answers through an adapter that writes a JSON answer in pieces; this one hands Fastify a
 * single string (see the MCP benchmark in scripts/bench/mcp.ts).
 */
function webRequest (request: FastifyRequest): Request {
  const headers = new Headers()
  for (const name of TRANSPORT_HEADERS) {
    const value = request.headers[name]
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
  }
  return new Request(`http://localhost${request.url}`, { method: request.method, headers })
}

/** Sends the transport's answer: a JSON body at once, an event stream as it comes. */
async function sendResponse (reply: FastifyReply, response: Response): Promise<FastifyReply> {
  const body = response.body
  if (body != null && (response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    reply.hijack()
    const res = reply.raw
    const headers: Record<string, string> = {}
    response.headers.forEach((value, name) => { headers[name] = value })
    res.writeHead(response.status, headers)
    const reader = body.getReader()
    // The client went away: cancelling the stream lets the transport forget it.
    const cancel = (): void => { reader.cancel().catch(() => {}) }
    res.once('close', cancel)
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        res.write(value)
      }
    } catch {
      // Cancelled, or the transport closed the stream: nothing more to send.
    } finally {
      res.off('close', cancel)
      res.end()
    }
    return reply
  }
  void reply.code(response.status)
  response.headers.forEach((value, name) => { void reply.header(name, value) })
  // A string goes out in one write with the headers (a Buffer would take a writev of two pieces).
  return await reply.send(body == null ? undefined : await response.text())
}

/** Registers `/mcp` on `app` (a scope of the gateway). */
export async function mcpRoutes (app: FastifyInstance, init: McpHttpInit): Promise<McpSessions> {
  const limit = init.maxSessions ?? 64
  const idleMs = init.idleMs ?? 30 * 60_000
  const sessions = new Map<string, Session>()
  /** Sessions being initialized (counted against the limit before they have an id). */
  let opening = 0

  const drop = (id: string | undefined): void => {
    if (id == null) return
    const session = sessions.get(id)
    if (session == null) return
    sessions.delete(id)
    void session.mcp.close().catch(() => {})
  }
  const sweep = (): void => {
    const before = Date.now() - idleMs
    for (const [id, s] of sessions) {
      if (s.streams === 0 && s.lastSeen < before) {
        sessions.delete(id)
        void s.transport.close().catch(() => {})
        void s.mcp.close().catch(() => {})
      }
    }
  }
  const sweeper = setInterval(sweep, Math.min(idleMs, 60_000))
  sweeper.unref()
  // Before the server closes (preClose): it waits for open requests, and a notification stream
  // stays open until its session ends.
  app.addHook('preClose', async () => {
    clearInterval(sweeper)
    const open = [...sessions.values()]
    sessions.clear()
    // Open notification streams would hold the server's close: end them.
    await Promise.all(open.map(async (s) => {
      await s.transport.close().catch(() => {})
      await s.mcp.close().catch(() => {})
    }))
  })

  const openSession = async (): Promise<Session> => {
    const mcp = createMcpServer(init.node, { fileOutput: false })
    const session: Session = { transport: undefined as unknown as WebStandardStreamableHTTPServerTransport, mcp, lastSeen: Date.now(), streams: 0 }
    session.transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // One JSON answer per request: tool calls here answer at once, and notifications travel
      // on the session's GET stream.
      enableJsonResponse: true,
      onsessioninitialized: (id) => { sessions.set(id, session) },
      onsessionclosed: (id) => { drop(id) }
    })
    session.transport.onclose = () => { drop(session.transport.sessionId) }
    await mcp.server.connect(session.transport)
    return session
  }

  /** The session a request names, or an answer saying why there is none (then undefined). */
  const named = (request: FastifyRequest, reply: FastifyReply): Session | undefined => {
    const id = request.headers[SESSION_HEADER]
    if (typeof id !== 'string' || id === '') {
      rpcError(reply, 400, SERVER_ERROR, 'Bad Request: the Mcp-Session-Id header is required (initialize first)', 'ERR_BAD_REQUEST')
      return undefined
    }
    const session = sessions.get(id)
    if (session == null) {
      rpcError(reply, 404, SESSION_NOT_FOUND, 'Session not found (it ended or expired): initialize a new one', 'ERR_NOT_FOUND')
      return undefined
    }
    session.lastSeen = Date.now()
    return session
  }

  // The body is parsed here, so a malformed one gets a JSON-RPC parse error, not the gateway's.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: init.bodyLimit }, (_request, body, done) => { done(null, body) })

  app.post<{ Body: string }>('/mcp', {
    onRequest: init.auth,
    config: { rateLimit: init.rateLimit },
    schema: { hide: true }
  }, async (request, reply) => {
    let message: unknown
    try {
      message = JSON.parse(request.body)
    } catch (err) {
      return rpcError(reply, 400, PARSE_ERROR, `Parse error: ${(err as Error).message}`, 'ERR_JSON_INVALID')
    }
    if (message === null || typeof message !== 'object') return rpcError(reply, 400, INVALID_REQUEST, 'Invalid Request: a JSON-RPC message is an object (or an array of them)', 'ERR_BAD_REQUEST')
    if (request.headers[SESSION_HEADER] == null && isInitializeRequest(message)) {
      if (sessions.size + opening >= limit) sweep()
      if (sessions.size + opening >= limit) {
        void reply.header('retry-after', 5)
        return rpcError(reply, 503, SERVER_ERROR, `this gateway already holds ${limit} MCP sessions; retry later`, 'ERR_OVERLOADED')
      }
      // Counted from here until the transport has given the session its id (or refused it).
      opening++
      try {
        const fresh = await openSession()
        const response = await fresh.transport.handleRequest(webRequest(request), { parsedBody: message })
        // An initialize the transport refused leaves a session that never got an id.
        if (fresh.transport.sessionId == null || !sessions.has(fresh.transport.sessionId)) await fresh.mcp.close().catch(() => {})
        return await sendResponse(reply, response)
      } finally {
        opening--
      }
    }
    const session = named(request, reply)
    if (session == null) return reply
    return await sendResponse(reply, await session.transport.handleRequest(webRequest(request), { parsedBody: message }))
  })

  app.get('/mcp', { onRequest: init.auth, schema: { hide: true } }, async (request, reply) => {
    const session = named(request, reply)
    if (session == null) return reply
    session.streams++
    try {
      return await sendResponse(reply, await session.transport.handleRequest(webRequest(request)))
    } finally {
      session.streams--
      session.lastSeen = Date.now()
    }
  })

  app.delete('/mcp', { onRequest: init.auth, schema: { hide: true } }, async (request, reply) => {
    const session = named(request, reply)
    if (session == null) return reply
    return await sendResponse(reply, await session.transport.handleRequest(webRequest(request)))
  })

  return {
    get size () { return sessions.size },
    limit
  }
}
