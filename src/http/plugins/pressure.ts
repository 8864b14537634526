import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import { httpCodes, HttpError } from '../errors.ts'

export interface PressureLimits {
  /** Mean event loop delay over the last second, ms (default 1,000). */
  maxEventLoopDelay?: number
  /** V8 heap in use, bytes (0: no limit). */
  maxHeapUsedBytes?: number
  /** Resident set size, bytes (0: no limit). */
  maxRssBytes?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** @fastify/under-pressure's last sample (once a second). */
    memoryUsage: () => { eventLoopDelay: number, rssBytes: number, heapUsed: number, eventLoopUtilized: number }
  }
}

/** Starting up (loading modules, compiling schemas) blocks the event loop; delay counts from 3 s after listening. */
const STARTUP_GRACE_MS = 3000
const RETRY_AFTER_SECONDS = 2

/**
 * Load shedding: 503 ERR_OVERLOADED with Retry-After while the node is past a limit.
 *
 * @fastify/under-pressure samples the event loop delay and memory once a second; the check of
 * every request is this hook. The plugin's own hook reads `request.routeOptions` on every request
 * (for a per-route handler), and Fastify builds that object anew on each read, with a router
 * lookup; this hook reads nothing from the request. The plugin runs without limits of its own,
 * so it adds no hook, and framehub compares its samples here.
 */
export async function loadShedding (app: FastifyInstance, limits: PressureLimits): Promise<void> {
  const maxEventLoopDelay = limits.maxEventLoopDelay ?? 1000
  const maxHeapUsedBytes = limits.maxHeapUsedBytes ?? 0
  const maxRssBytes = limits.maxRssBytes ?? 0
  await app.register(underPressure, { exposeStatusRoute: false })
  let judgeDelayFrom = Date.now() + STARTUP_GRACE_MS
  app.addHook('onListen', (done) => { judgeDelayFrom = Date.now() + STARTUP_GRACE_MS; done() })

  const pressure = (): string | undefined => {
    const sample = app.memoryUsage()
    if (maxEventLoopDelay > 0 && sample.eventLoopDelay > maxEventLoopDelay && Date.now() >= judgeDelayFrom) return 'event loop delay'
    if (maxHeapUsedBytes > 0 && sample.heapUsed > maxHeapUsedBytes) return 'heap used'
    if (maxRssBytes > 0 && sample.rssBytes > maxRssBytes) return 'resident memory'
    return undefined
  }
  app.addHook('onRequest', (_request, reply, done) => {
    const type = pressure()
    if (type === undefined) { done(); return }
    void reply.header('retry-after', RETRY_AFTER_SECONDS)
    done(new HttpError(httpCodes.overloaded, `the node is overloaded (${type}); retry later`))
  })
}
