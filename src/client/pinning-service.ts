import { setTimeout as sleep } from 'node:timers/promises'
import type { PinsGetRequest, PinStatus, RemotePinningServiceClient, Status } from '@ipfs-shipyard/pinning-service-client'
import { FramehubError, isFramehubError } from '../core/errors.ts'
import type { Code } from '../core/errors.ts'

/** Bound of one request to the pinning service, ms. */
export const REQUEST_TIMEOUT_MS = 30_000
/** Polling of GET /pins/{requestid} while waiting: starts fast, backs off to this, ms. */
const MAX_POLL_MS = 2_000
/** `removeAll` removes at most this many pins per listing (the spec's largest page). */
const PAGE = 1000

/** The statuses of a pin request (the spec's `Status`). */
export const PIN_STATES = ['queued', 'pinning', 'pinned', 'failed'] as const
/** How a name filter matches (the spec's `TextMatchingStrategy`). */
export const PIN_MATCHES = ['exact', 'iexact', 'partial', 'ipartial'] as const

/** Codes (of the one registry) only the pinning-service client raises; the service's errors become them (see `serviceError`). */
export const PIN_CODES = {
  notFound: 'ERR_PIN_NOT_FOUND',
  unreachable: 'ERR_PIN_SERVICE_UNREACHABLE',
  service: 'ERR_PIN_SERVICE',
  failed: 'ERR_PIN_FAILED'
} as const satisfies Record<string, Code>

/** A pin status as framehub shows it: flat, the time as RFC 3339. */
export interface PinView {
  requestid: string
  status: string
  cid: string
  name: string | null
  created: string | null
  origins?: string[]
  meta?: Record<string, string>
  delegates: string[]
  info?: Record<string, string>
}

/** Where the service is and how to get in. */
export interface PinningServiceInit {
  /** The endpoint's base URL, under which `/pins` lives (see `parseServiceUrl` in the CLI). */
  url: string
  /** Its access token, sent as a bearer token. */
  token: string
}

export interface AddPinOptions {
  name?: string
  /** Multiaddrs of peers that have the data. */
  origins?: string[]
  /** Return as soon as the service has queued the request. */
  background?: boolean
  /** How long to wait for pinned or failed, ms; past it ERR_TIMEOUT (the request stays on the service). */
  waitMs: number
}

export interface ListPinsQuery {
  cid?: string[]
  name?: string
  match?: typeof PIN_MATCHES[number]
  status?: Array<typeof PIN_STATES[number]>
  limit?: number
}

/** A client of an IPFS Pinning Service API endpoint; its errors are FramehubErrors (PIN_CODES and shared codes). */
export interface PinningService {
  readonly url: string
  /** Asks the service to pin `cid`; unless `background`, waits until it is pinned or failed (a failed status is returned, not thrown). */
  add (cid: string, options: AddPinOptions): Promise<PinView>
  /** Pin requests, newest first, and how many match in all. */
  list (query: ListPinsQuery): Promise<{ count: number, results: PinView[] }>
  /** Removes one request (ERR_PIN_NOT_FOUND if the service has none such). */
  remove (requestid: string): Promise<void>
  /** Removes every request of `cid`, whatever its status; returns their ids (ERR_PIN_NOT_FOUND if none). */
  removeAll (cid: string): Promise<string[]>
}

/** What a request was about, for the error message of a 404. */
type Target = { requestid: string } | { endpoint: true }

/** The published client throws the Response of a non-2xx answer, fetch's TypeError when there is none. */
async function serviceError (url: string, target: Target, err: unknown): Promise<FramehubError> {
  if (isFramehubError(err)) return err
  if (err instanceof Response) {
    let reason = err.statusText
    let details = ''
    try {
      const body = await err.json() as { error?: { reason?: unknown, details?: unknown } }
      if (typeof body.error?.reason === 'string') reason = body.error.reason
      if (typeof body.error?.details === 'string') details = body.error.details
    } catch { /* not the spec's Failure body */ }
    const said = `${err.status}${reason !== '' ? ` ${reason}` : ''}${details !== '' ? `: ${details}` : ''}`
    const status = err.status
    if (status === 401 || status === 403) {
      return new FramehubError('ERR_UNAUTHORIZED', `the pinning service at ${url} refused the access token (${said})`, { service: url, status })
    }
    if (status === 404) {
      return 'requestid' in target
        ? new FramehubError(PIN_CODES.notFound, `no pin request "${target.requestid}" on the pinning service at ${url}`, { service: url, requestid: target.requestid })
        : new FramehubError('ERR_NOT_FOUND', `${url}/pins was not found (${said}): is ${url} a Pinning Service API endpoint?`, { service: url, status })
    }
    if (status === 400 || status === 422) return new FramehubError('ERR_VALIDATION', `the pinning service at ${url} rejected the request (${said})`, { service: url, status })
    if (status === 502 || status === 503 || status === 504) return new FramehubError(PIN_CODES.unreachable, `the pinning service at ${url} is unavailable (${said})`, { service: url, status })
    return new FramehubError(PIN_CODES.service, `the pinning service at ${url} answered ${said}`, { service: url, status })
  }
  const e = err as { name?: string, message?: string, cause?: { code?: string, message?: string } }
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new FramehubError('ERR_TIMEOUT', `the pinning service at ${url} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`, { service: url })
  }
  if (e.name === 'TypeError' && e.cause != null) {
    const why = e.cause.code ?? e.cause.message ?? e.message
    return new FramehubError(PIN_CODES.unreachable, `cannot reach the pinning service at ${url}: ${why}`, { service: url })
  }
  // A 2xx whose body is not the spec's JSON: some other server is at that address.
  return new FramehubError(PIN_CODES.service, `the pinning service at ${url} did not answer as a Pinning Service API (${e.message ?? String(err)})`, { service: url })
}

/** The flat view of a pin status; a status without requestid or cid is the service's fault. */
function view (s: PinStatus): PinView {
  if (typeof s?.requestid !== 'string' || typeof s.pin?.cid !== 'string') {
    throw new FramehubError(PIN_CODES.service, 'the pinning service answered a pin status without requestid or cid')
  }
  const created = s.created instanceof Date && !Number.isNaN(s.created.getTime()) ? s.created.toISOString() : null
  return {
    requestid: s.requestid,
    status: s.status,
    cid: s.pin.cid,
    name: s.pin.name ?? null,
    created,
    ...(s.pin.origins != null && s.pin.origins.length > 0 ? { origins: s.pin.origins } : {}),
    ...(s.pin.meta != null ? { meta: s.pin.meta } : {}),
    delegates: s.delegates ?? [],
    ...(s.info != null ? { info: s.info } : {})
  }
}

/** A client of the Pinning Service API endpoint at `init.url` (the published client, loaded on demand). */
export async function createPinningService (init: PinningServiceInit): Promise<PinningService> {
  const { url } = init
  const { Configuration, RemotePinningServiceClient } = await import('@ipfs-shipyard/pinning-service-client')
  const client: RemotePinningServiceClient = new RemotePinningServiceClient(new Configuration({ endpointUrl: url, accessToken: init.token }))

  /** Runs one request of the published client, bounded, with the service's errors as FramehubErrors. */
  const call = async <T>(target: Target, fn: (init: RequestInit) => Promise<T>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> => {
    try {
      return await fn({ signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      throw await serviceError(url, target, err)
    }
  }
  const endpoint = { endpoint: true } as const

  return {
    url,
    add: async (cid, options) => {
      let status = await call(endpoint, async (i) => await client.pinsPost({ pin: { cid, ...(options.name != null ? { name: options.name } : {}), ...(options.origins != null ? { origins: options.origins } : {}) } }, i))
      let v = view(status)
      if (options.background === true) return v
      const deadline = Date.now() + options.waitMs
      let delay = 100
      while (status.status === 'queued' || status.status === 'pinning') {
        const left = deadline - Date.now()
        if (left <= 0) {
          throw new FramehubError('ERR_TIMEOUT', `pin request ${status.requestid} for ${cid} is still ${status.status} on ${url} after ${options.waitMs / 1000} s; it stays there (see "framehub pin remote ls --status queued,pinning")`, { service: url, requestid: status.requestid })
        }
        await sleep(Math.min(delay, left))
        delay = Math.min(delay * 2, MAX_POLL_MS)
        const requestid = status.requestid
        status = await call({ requestid }, async (i) => await client.pinsRequestidGet({ requestid }, i),
          Math.max(1_000, Math.min(REQUEST_TIMEOUT_MS, deadline - Date.now())))
      }
      v = view(status)
      return v
    },
    list: async (query) => {
      const r = await call(endpoint, async (i) => await client.pinsGet({
        ...(query.cid != null && query.cid.length > 0 ? { cid: query.cid } : {}),
        ...(query.name != null ? { name: query.name } : {}),
        ...(query.match != null ? { match: query.match as NonNullable<PinsGetRequest['match']> } : {}),
        ...(query.status != null ? { status: query.status as Status[] } : {}),
        ...(query.limit != null ? { limit: query.limit } : {})
      }, i))
      const results = [...(r.results ?? [])].map(view)
      return { count: typeof r.count === 'number' ? r.count : results.length, results }
    },
    remove: async (requestid) => {
      await call({ requestid }, async (i) => { await client.pinsRequestidDelete({ requestid }, i) })
    },
    removeAll: async (cid) => {
      const removed: string[] = []
      // Listed and removed page by page; a request the service keeps listing ends the loop.
      const seen = new Set<string>()
      for (;;) {
        const page = await call(endpoint, async (i) => await client.pinsGet({ cid: [cid], status: [...PIN_STATES] as Status[], limit: PAGE }, i))
        const ids = [...(page.results ?? [])].map(p => view(p).requestid).filter(id => !seen.has(id))
        if (ids.length === 0) break
        for (const id of ids) {
          seen.add(id)
          try {
            await call({ requestid: id }, async (i) => { await client.pinsRequestidDelete({ requestid: id }, i) })
            removed.push(id)
          } catch (err) {
            // Removed by someone else since the listing: what was asked for is done.
            if (!isFramehubError(err) || err.code !== PIN_CODES.notFound) throw err
          }
        }
      }
      if (removed.length === 0) throw new FramehubError(PIN_CODES.notFound, `no pin requests for ${cid} on the pinning service at ${url}`, { service: url, cid })
      return removed
    }
  }
}
