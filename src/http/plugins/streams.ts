/**
 * The gateway's open Server-Sent Events streams (`GET /api/v1/events`): how many there are, and
 * at most how many. Only these are counted by `/health` and `framehub_event_stream_clients`; the
 * node's own subscribers to the event bus (metrics, index catch-up, publishing) are not clients.
 */
export interface StreamSlots {
  /** Streams open now. */
  readonly open: number
  /** Most streams open at once. */
  readonly limit: number
  /** Takes a slot; false when all `limit` are taken. */
  acquire (): boolean
  /** Gives back a slot taken by `acquire` (call once per slot). */
  release (): void
}

/** Default number of event streams one gateway serves at once. */
export const DEFAULT_EVENT_STREAMS = 64

export function createStreamSlots (limit: number = DEFAULT_EVENT_STREAMS): StreamSlots {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`event stream limit must be a whole number >= 0, not ${limit}`)
  let open = 0
  return {
    get open () { return open },
    limit,
    acquire () {
      if (open >= limit) return false
      open++
      return true
    },
    release () {
      if (open > 0) open--
    }
  }
}
