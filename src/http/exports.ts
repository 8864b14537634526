import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { httpCodes, HttpError } from './errors.ts'

/**
 * Full-DAG exports (`/ipfs/{cid}?format=car` with dag-scope=all, `/api/v1/snapshots/{ref}`):
 * how many stream at once, how many more may wait for a turn, and how long a client may read
 * nothing before its export is dropped.
 */
export interface ExportLimits {
  /** Exports streamed at once (default 4). */
  concurrent: number
  /** Exports waiting for a turn; past that, 503 ERR_OVERLOADED with Retry-After (default 16). */
  queued: number
  /** A client that takes none of the bytes for this long, ms, loses its connection (default 60 s). */
  stallMs: number
}

export const DEFAULT_EXPORT_LIMITS: Readonly<ExportLimits> = Object.freeze({ concurrent: 4, queued: 16, stallMs: 60_000 })

/** Seconds a client refused for overload is told to wait (Retry-After). */
const RETRY_AFTER_SECONDS = 1

/** Bytes of an export held in memory ahead of the client: the stream's buffer (the socket's is as large). */
const EXPORT_HIGH_WATER_MARK = 64 * 1024

/** The gate every full-DAG export passes: a counting semaphore with a bounded queue. */
export interface ExportGate {
  readonly limits: Readonly<ExportLimits>
  /** Exports streaming now. */
  readonly active: number
  /** Exports waiting for a turn. */
  readonly waiting: number
  /**
   * Waits for a turn (a full queue answers 503 ERR_OVERLOADED with Retry-After; a client that
   * leaves while waiting gives up its place), then ties the turn to the reply: it is given back
   * when the response ends, however it ends, and a client that takes nothing for `stallMs` while
   * the export waits to write loses its connection. Call it before the export's first read.
   */
  enter (reply: FastifyReply, signal: AbortSignal): Promise<void>
}

/**
 * The body of an export: `chunks` read only as the socket takes them, at most
 * `EXPORT_HIGH_WATER_MARK` bytes ahead (the walk behind `chunks` waits for the client).
 */
export function exportBody (chunks: AsyncIterable<Uint8Array>): Readable {
  return Readable.from(chunks, { objectMode: false, highWaterMark: EXPORT_HIGH_WATER_MARK })
}

export function createExportGate (limits: Partial<ExportLimits> = {}): ExportGate {
  const config: ExportLimits = { ...DEFAULT_EXPORT_LIMITS, ...limits }
  let active = 0
  const queue: Array<() => void> = []

  const release = (): void => {
    const next = queue.shift()
    if (next != null) next() // the turn passes on: `active` stays the same
    else active--
  }

  const wait = async (reply: FastifyReply, signal: AbortSignal): Promise<void> => {
    signal.throwIfAborted()
    if (active < config.concurrent) { active++; return }
    if (queue.length >= config.queued) {
      void reply.header('retry-after', RETRY_AFTER_SECONDS)
      throw new HttpError(httpCodes.overloaded, `${active} exports are streaming and ${queue.length} are waiting: retry in ${RETRY_AFTER_SECONDS} s`)
    }
    await new Promise<void>((resolve, reject) => {
      const turn = (): void => { signal.removeEventListener('abort', leave); resolve() }
      const leave = (): void => {
        const at = queue.indexOf(turn)
        if (at >= 0) queue.splice(at, 1)
        reject(signal.reason)
      }
      queue.push(turn)
      signal.addEventListener('abort', leave, { once: true })
    })
  }

  return {
    limits: config,
    get active () { return active },
    get waiting () { return queue.length },
    async enter (reply, signal) {
      await wait(reply, signal)
      let released = false
      const done = (): void => { if (!released) { released = true; release() } }
      // Given back when the response is complete or the connection goes, whichever comes first.
      reply.raw.once('close', done)
      if (reply.raw.destroyed) { done(); signal.throwIfAborted() }
      // The socket's idle timer: every write that goes out resets it, so it fires only when the
      // client has taken nothing for stallMs. (Node gives the socket its keep-alive timeout back
      // when the response ends.)
      reply.raw.setTimeout(config.stallMs, () => { reply.raw.destroy() })
    }
  }
}
