import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { eventTypes } from '../../../services/events.ts'
import type { NodeEvent, NodeEventType } from '../../../services/events.ts'
import { httpCodes, HttpError } from '../../errors.ts'
import type { ApiContext } from './context.ts'

const HEARTBEAT_MS = 15_000

/** The session an event belongs to, if any. */
const sessionOf = (event: NodeEvent): string | undefined => event.type === 'step:append' ? (event.detail as { session: string }).session : undefined

export async function eventRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const open = new Set<ServerResponse>()
  // Streams never end by themselves: end them so that closing the server does not wait on them
  // (preClose: the server's own close, which waits for open requests, runs before onClose hooks).
  app.addHook('preClose', async () => {
    for (const res of open) res.end()
  })

  app.get<{ Querystring: { types?: string, session?: string, limit?: number } }>('/events', {
    schema: {
      summary: 'Live stream of node events (Server-Sent Events): commits, ref moves, frames, steps, pins',
      description: `Event types: ${eventTypes.join(', ')}. Each message has \`event: <type>\`, \`id\` and \`data\` (JSON). Only writes made through this gateway are seen for now. At most ${ctx.streams.limit} streams are open at once (503 ERR_OVERLOADED beyond).`,
      tags: ['events'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          types: { type: 'string', maxLength: 512, description: 'Comma-separated event types to receive (default all)' },
          session: { type: 'string', minLength: 1, maxLength: 256, description: 'Only step:append events of this session (other types pass)' },
          limit: { type: 'integer', minimum: 1, maximum: 1000000, description: 'Close the stream after this many events' }
        }
      }
    }
  }, async (request, reply) => {
    const types = request.query.types?.split(',').map(t => t.trim()).filter(t => t !== '')
    for (const t of types ?? []) {
      if (!eventTypes.includes(t as NodeEventType)) throw new HttpError(httpCodes.validation, `querystring/types: unknown event type "${t}" (known: ${eventTypes.join(', ')})`)
    }
    const wanted = types == null || types.length === 0 ? undefined : new Set(types)
    const { session, limit } = request.query
    // A stream holds a socket and a subscriber for as long as the client wants: a bounded number.
    if (!ctx.streams.acquire()) {
      void reply.header('retry-after', 5)
      throw new HttpError(httpCodes.overloaded, `this gateway already serves ${ctx.streams.limit} event streams; retry later`)
    }
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    res.write(': framehub events\n\n')
    open.add(res)
    let sent = 0
    let stopped = false
    const stop = (): void => {
      if (stopped) return
      stopped = true
      unsubscribe()
      clearInterval(heartbeat)
      open.delete(res)
      ctx.streams.release()
    }
    const unsubscribe = ctx.events.subscribe(event => {
      if (wanted != null && !wanted.has(event.type)) return
      if (session != null && event.type === 'step:append' && sessionOf(event) !== session) return
      res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify({ time: event.time, ...event.detail })}\n\n`)
      if (limit != null && ++sent >= limit) {
        stop()
        res.end()
      }
    })
    const heartbeat = setInterval(() => { res.write(': ping\n\n') }, HEARTBEAT_MS)
    heartbeat.unref()
    res.once('close', stop)
    // A client that went away before the stream opened gets no 'close' any more.
    if (res.destroyed) stop()
  })
}
