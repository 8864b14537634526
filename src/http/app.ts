import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController } from 'fastify'
import { MAX_JSON_TEXT_BYTES } from '../core/json-view.ts'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { FramehubNode } from '../node.ts'
import { httpCodes, HttpError, installErrorHandlers } from './errors.ts'
import type { EventBus } from '../services/events.ts'
import { registerMetrics } from './plugins/metrics.ts'
import { loadShedding } from './plugins/pressure.ts'
import { bearerAuth } from './plugins/auth.ts'
import { apiRoutes } from './routes/api/index.ts'
import type { ApiContext } from './routes/api/context.ts'
import { healthRoutes } from './routes/health.ts'
import { ipfsRoutes } from './routes/ipfs/index.ts'
import { createExportGate } from './exports.ts'
import type { ExportGate, ExportLimits } from './exports.ts'
import { pinRoutes } from './routes/pins/index.ts'
import { otlpRoutes } from './routes/otlp.ts'
import type { PinStore } from '../services/pins.ts'
import { lazySerializers, registerSchemas } from './schemas.ts'
import { createStreamSlots } from './plugins/streams.ts'
import { hostCheck } from './plugins/host.ts'
import { openapiTransform } from './plugins/openapi.ts'
import type { StreamSlots } from './plugins/streams.ts'
import { mcpRoutes } from '../mcp/http.ts'
import { uiRoutes } from './routes/ui.ts'

/** How the gateway is set up. Every limit has a default that suits one node on loopback. */
export interface GatewayInit {
  /** Fastify's pino logger: options, `false` for none. Default: info level. */
  logger?: FastifyServerOptions['logger']
  /**
   * Which requests are logged (default `'problems'`):
   * - `'all'`: Fastify's access log, two lines per request at info level ("incoming request",
   *   "request completed"). It costs about as much CPU as serving a block from the cache (a
   *   synchronous write per line), so it is for debugging (`framehub daemon --log-requests`).
   * - `'problems'`: one warn line per request that answered 5xx or took `slowRequestMs` or more;
   *   other requests cost no logging at all. Errors keep their own line from the error handler.
   */
  logRequests?: 'all' | 'problems'
  /** A request that takes this long or more is logged in `'problems'` mode, ms (default 1,000). */
  slowRequestMs?: number
  /** Largest JSON body, bytes (default 8 MiB: MAX_JSON_TEXT_BYTES, the JSON text of the largest frame). */
  bodyLimit?: number
  /** Largest attachment upload, bytes (default 64 MiB). */
  attachmentLimit?: number
  /** Largest CAR upload for snapshot import, bytes (default 1 GiB). */
  carImportLimit?: number
  /** Largest NDJSON upload for frame import, bytes (default 1 GiB). */
  frameImportLimit?: number
  /**
   * Time to receive a whole request (headers and body), ms (default 30 s); Node's
   * `requestTimeout`. It stops counting once the request is in: a handler at work is never cut.
   */
  requestTimeout?: number
  /** Time a handler may work on one request, ms (default 60 s; streamed exports get 10×). */
  handlerTimeout?: number
  /** Full-DAG exports (CARs with dag-scope=all, snapshot exports): at once, waiting, stall timeout (see `exports.ts`). */
  exports?: Partial<ExportLimits>
  /** Rate limit of write endpoints and /pins, per client IP (default 1,200 per minute); `false` for none. */
  rateLimit?: { max: number, timeWindow: number } | false
  /** Load shedding (@fastify/under-pressure); `false` for none. Default: 503 past 1 s event loop delay. */
  underPressure?: { maxEventLoopDelay?: number, maxHeapUsedBytes?: number, maxRssBytes?: number } | false
  /** Serve the OpenAPI document and Swagger UI at /docs (default true). */
  docs?: boolean
  /** Serve the explorer, a read-only web page of the repository, at /ui (default true). */
  ui?: boolean
  /** The event bus to stream and count (default: the node's; pin status events go to the node's). */
  events?: EventBus
  /** Most event streams (`GET /api/v1/events`) open at once; past it, 503 ERR_OVERLOADED (default 64). */
  maxEventStreams?: number
  /** Most MCP sessions (`/mcp`) open at once; past it an `initialize` gets 503 ERR_OVERLOADED (default 64). */
  maxMcpSessions?: number
  /**
   * `Host` values answered besides the gateway's own addresses (`--allow-host`): `HOST` (any
   * port), `HOST:PORT`, `[IPv6]:PORT`, or `*` for any (see `plugins/host.ts`). Others get 403
   * ERR_HOST_NOT_ALLOWED. Default none; a gateway listening on all interfaces with none allows any.
   */
  allowHosts?: readonly string[]
}

/** What the gateway adds to its Fastify instance. */
export interface GatewayDecorations {
  node: FramehubNode
  events: EventBus
  /** The node's pinning service. */
  pins: PinStore
  /** The open event streams. */
  streams: StreamSlots
  /** The gate of full-DAG exports. */
  exports: ExportGate
}

declare module 'fastify' {
  interface FastifyInstance {
    framehub: GatewayDecorations
  }
  interface FastifyContextConfig {
    /** The code a body validation error gets on this route (e.g. ERR_FRAME_INVALID), as the CLI reports it. */
    bodyErrorCode?: string
  }
}

const MiB = 1024 * 1024
/** Response headers of /ipfs that a web page may read (CORS). */
const IPFS_EXPOSED_HEADERS = 'Content-Length, Content-Location, Content-Range, Etag, X-Ipfs-Path, X-Ipfs-Roots'

/**
 * The framehub gateway: `/api/v1` (query API), `/ipfs` (trustless gateway), `/pins` (Pinning
 * Service API), `/health`, `/metrics`, `/docs`. Not listening yet: the caller calls `listen` and,
 * when done, `close` (the node stays open; closing it is the caller's job).
 */
export async function createGateway (node: FramehubNode, init: GatewayInit = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: init.logger ?? { level: 'info', redact: ['req.headers.authorization'] },
    // Per-request logging is Fastify's access log only when asked for (see `logRequests`); set
    // through a LogController (the top-level `disableRequestLogging` is deprecated, FSTDEP023).
    logController: new LogController({ disableRequestLogging: init.logRequests !== 'all' }),
    // The JSON text of any frame or step the local path accepts (a block of at most 1 MiB) fits.
    bodyLimit: init.bodyLimit ?? MAX_JSON_TEXT_BYTES,
    requestTimeout: init.requestTimeout ?? 30_000,
    // No socket idle timeout (Node's and Fastify's default): it also counts the time a handler
    // works, and cut `gc` or `index rebuild` on a large repository mid-answer. Slow senders are
    // bounded by requestTimeout (and Node's headersTimeout), idle keep-alive connections by
    // keepAliveTimeout, a handler's work by handlerTimeout, a client that stops reading an
    // export by the exports' stall timeout.
    connectionTimeout: 0,
    keepAliveTimeout: 10_000,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 1024, ignoreTrailingSlash: true },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    schemaController: { compilersFactory: { buildSerializer: lazySerializers() } }
  })
  const events = init.events ?? node.events
  // The services are the node's (built by createNode); the gateway only serves them.
  const { pins } = node
  const streams = createStreamSlots(init.maxEventStreams)
  const exports = createExportGate(init.exports)
  app.decorate('framehub', { node, events, pins, streams, exports })
  // Serving the pinning API: requests an earlier run left queued are resumed now, not at the first call.
  pins.start().catch((err: unknown) => { app.log.warn({ err }, 'resuming queued pin requests failed') })

  registerSchemas(app)
  installErrorHandlers(app)
  if (init.logRequests !== 'all' && init.logger !== false) logProblemRequests(app, init.slowRequestMs ?? 1000)
  // First of the hooks: a request for another host is refused before anything else runs.
  hostCheck(app, init.allowHosts)
  // Bodies are JSON or what a route declares (NDJSON, CAR, attachments): Fastify's default
  // text/plain parser would hand a JSON route a string and answer 400 instead of 415.
  app.removeContentTypeParser('text/plain')

  // Metrics first: they time every route added after them.
  registerMetrics(app, node, events, streams)
  if (init.underPressure !== false) await loadShedding(app, init.underPressure ?? {})
  const rate = init.rateLimit ?? { max: 1200, timeWindow: 60_000 }
  let writeRateLimit: Record<string, unknown> | undefined
  if (rate !== false) {
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: (_request, context) => new HttpError(httpCodes.rateLimited, `too many requests: retry in ${context.after}`)
    })
    writeRateLimit = { max: rate.max, timeWindow: rate.timeWindow }
  }

  if (init.docs !== false) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: 'framehub gateway', version: '1', description: 'Query API, IPFS trustless gateway and IPFS Pinning Service API of a framehub node.' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The repository\'s apiToken ("framehub config").' } } }
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
      transform: openapiTransform
    })
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
  }

  const auth = bearerAuth(node.repo.config.apiToken)
  const handlerTimeoutMs = init.handlerTimeout ?? 60_000
  const ctx: ApiContext = {
    node,
    events,
    auth,
    writeRateLimit,
    streams,
    limits: {
      attachmentBytes: init.attachmentLimit ?? 64 * MiB,
      carImportBytes: init.carImportLimit ?? 1024 * MiB,
      frameImportBytes: init.frameImportLimit ?? 1024 * MiB,
      handlerTimeoutMs
    }
  }
  await app.register(healthRoutes, { node, streams })
  await app.register(async (scope) => { await apiRoutes(scope, ctx) }, { prefix: '/api/v1' })
  // The OTLP/HTTP receiver at the path OpenTelemetry exporters append to OTEL_EXPORTER_OTLP_ENDPOINT.
  await app.register(async (scope) => { await otlpRoutes(scope, ctx) })
  // MCP's Streamable HTTP transport (src/mcp/http.ts), its JSON-RPC bodies parsed in its own scope.
  await app.register(async (scope) => { await mcpRoutes(scope, { node, auth, rateLimit: writeRateLimit, maxSessions: init.maxMcpSessions, bodyLimit: init.bodyLimit ?? MAX_JSON_TEXT_BYTES }) })
  await app.register(async (scope) => {
    // Trustless gateway reads may be made by any web page (as Kubo's and boxo's gateways allow):
    // `Access-Control-Allow-Origin: *` on every /ipfs answer, and preflights for GET and HEAD.
    // The token-protected API and /pins get no CORS headers.
    // - Answers: two constant headers set by this hook. @fastify/cors's own hook reads
    //   `request.routeOptions` twice and copies its options on every request, which the block
    //   route's hot path avoids (see plugins/metrics.ts).
    // - Preflights: @fastify/cors, in a scope of its own that holds only its OPTIONS route. That
    //   route matches every path: OPTIONS outside /ipfs goes to the 404/405 handler instead.
    scope.addHook('onRequest', (request, reply, done) => {
      if (request.method !== 'OPTIONS') {
        void reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', IPFS_EXPOSED_HEADERS)
      } else if (!request.url.startsWith('/ipfs/')) {
        reply.callNotFound()
        return
      }
      done()
    })
    await scope.register(async (preflight) => {
      await preflight.register(cors, {
        origin: '*',
        methods: ['GET', 'HEAD', 'OPTIONS'],
        allowedHeaders: ['Accept', 'Cache-Control', 'If-None-Match', 'Range', 'User-Agent', 'X-Requested-With'],
        exposedHeaders: IPFS_EXPOSED_HEADERS,
        maxAge: 86400,
        // An OPTIONS without the preflight headers gets the same 204 instead of a text/plain 400.
        strictPreflight: false
      })
    })
    await ipfsRoutes(scope, { node, handlerTimeoutMs, exports })
  })
  await app.register(async (scope) => { await pinRoutes(scope, { node, events, auth, writeRateLimit, store: pins }) }, { prefix: '/pins' })
  // The explorer (routes/ui.ts): static files, read-only; what it writes goes through /api/v1 with the token.
  if (init.ui !== false) await app.register(uiRoutes)
  return app
}

/**
 * Logs, at warn level, the requests that answered 5xx or took `slowMs` or more: one line with
 * the method, the URL, the status and the time, instead of two info lines for every request.
 */
function logProblemRequests (app: FastifyInstance, slowMs: number): void {
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode
    const ms = reply.elapsedTime
    if (status >= 500 || ms >= slowMs) {
      request.log.warn({ req: { method: request.method, url: request.url }, res: { statusCode: status }, responseTime: ms }, status >= 500 ? 'request answered with a server error' : 'slow request')
    }
    done()
  })
}
