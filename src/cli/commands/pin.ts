import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import type { PinsGetRequest, PinStatus, RemotePinningServiceClient, Status } from '@ipfs-shipyard/pinning-service-client'
import { parseCid } from '../../core/codec.ts'
import { FramehubError, isFramehubError, UsageError } from '../../core/errors.ts'
import type { Code } from '../../core/errors.ts'
import { collect, globals } from '../context.ts'
import { emit } from '../output.ts'
import type { GlobalOptions } from '../output.ts'

/** Bound of one request to the pinning service, ms. */
const REQUEST_TIMEOUT_MS = 30_000
/** How long `add` waits for the pin to settle unless told otherwise, s. */
const DEFAULT_WAIT_S = 60
/** Polling of GET /pins/{requestid} while waiting: starts fast, backs off to this, ms. */
const MAX_POLL_MS = 2_000
/** `rm --cid` removes at most this many pins per listing (the spec's largest page). */
const PAGE = 1000

const STATES = ['queued', 'pinning', 'pinned', 'failed'] as const
const MATCHES = ['exact', 'iexact', 'partial', 'ipartial'] as const

/** Codes (of the one registry) only these commands raise; the service's errors become them (see `serviceError`). */
const codes = {
  notFound: 'ERR_PIN_NOT_FOUND',
  unreachable: 'ERR_PIN_SERVICE_UNREACHABLE',
  service: 'ERR_PIN_SERVICE',
  failed: 'ERR_PIN_FAILED'
} as const satisfies Record<string, Code>

interface ServiceOptions { service?: string, token?: string }

/** Where the service is and how to get in: options first, then FRAMEHUB_PIN_SERVICE / FRAMEHUB_PIN_TOKEN. */
interface Service { url: string, client: RemotePinningServiceClient }

/**
 * The endpoint as the spec means it: the base URL under which `/pins` lives. A URL ending in
 * `/pins` (e.g. a framehub node's `http://127.0.0.1:8080/pins`) is taken as that base too.
 */
export function parseServiceUrl (text: string): string {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    throw new UsageError(`--service wants an http(s) URL (e.g. http://127.0.0.1:8080), not "${text}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--service wants an http(s) URL, not ${url.protocol.slice(0, -1)}: "${text}"`)
  if (url.username !== '' || url.password !== '') throw new UsageError('--service must not carry credentials: give the access token with --token')
  if (url.search !== '' || url.hash !== '') throw new UsageError(`--service wants the endpoint's base URL, without ?query or #fragment: "${text}"`)
  return url.origin + url.pathname.replace(/\/+$/, '').replace(/\/pins$/, '')
}

async function connect (opts: ServiceOptions): Promise<Service> {
  const env = (name: string): string | undefined => {
    const v = process.env[name]
    return v != null && v !== '' ? v : undefined
  }
  const service = opts.service ?? env('FRAMEHUB_PIN_SERVICE')
  const token = opts.token ?? env('FRAMEHUB_PIN_TOKEN')
  if (service == null) throw new UsageError('no pinning service: give --service URL or set FRAMEHUB_PIN_SERVICE')
  const url = parseServiceUrl(service)
  if (token == null || token === '') throw new UsageError('no access token: give --token TOKEN or set FRAMEHUB_PIN_TOKEN')
  // Loaded on demand: --help and usage errors answer without it.
  const { Configuration, RemotePinningServiceClient } = await import('@ipfs-shipyard/pinning-service-client')
  return { url, client: new RemotePinningServiceClient(new Configuration({ endpointUrl: url, accessToken: token })) }
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
        ? new FramehubError(codes.notFound, `no pin request "${target.requestid}" on the pinning service at ${url}`, { service: url, requestid: target.requestid })
        : new FramehubError('ERR_NOT_FOUND', `${url}/pins was not found (${said}): is ${url} a Pinning Service API endpoint?`, { service: url, status })
    }
    if (status === 400 || status === 422) return new FramehubError('ERR_VALIDATION', `the pinning service at ${url} rejected the request (${said})`, { service: url, status })
    if (status === 502 || status === 503 || status === 504) return new FramehubError(codes.unreachable, `the pinning service at ${url} is unavailable (${said})`, { service: url, status })
    return new FramehubError(codes.service, `the pinning service at ${url} answered ${said}`, { service: url, status })
  }
  const e = err as { name?: string, message?: string, cause?: { code?: string, message?: string } }
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new FramehubError('ERR_TIMEOUT', `the pinning service at ${url} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`, { service: url })
  }
  if (e.name === 'TypeError' && e.cause != null) {
    const why = e.cause.code ?? e.cause.message ?? e.message
    return new FramehubError(codes.unreachable, `cannot reach the pinning service at ${url}: ${why}`, { service: url })
  }
  // A 2xx whose body is not the spec's JSON: some other server is at that address.
  return new FramehubError(codes.service, `the pinning service at ${url} did not answer as a Pinning Service API (${e.message ?? String(err)})`, { service: url })
}

/** Runs one request of the published client, bounded, with the service's errors as FramehubErrors. */
async function call<T> (service: Service, target: Target, fn: (init: RequestInit) => Promise<T>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
  try {
    return await fn({ signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    throw await serviceError(service.url, target, err)
  }
}

/** The JSON view of a pin status: flat, the time as RFC 3339. */
function view (s: PinStatus): Record<string, unknown> {
  if (typeof s?.requestid !== 'string' || typeof s.pin?.cid !== 'string') {
    throw new FramehubError(codes.service, 'the pinning service answered a pin status without requestid or cid')
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

function describe (v: Record<string, unknown>): string {
  const lines = [`requestid ${String(v.requestid)}`, `status    ${String(v.status)}`, `cid       ${String(v.cid)}`, `name      ${v.name == null ? '(none)' : String(v.name)}`]
  const details = (v.info as Record<string, string> | undefined)?.status_details
  if (details != null) lines.push(`details   ${details}`)
  return lines.join('\n')
}

/** Runs a command's body (errors are reported by main.ts, exit statuses from exit-codes.ts). */
async function run (_options: GlobalOptions, fn: () => Promise<void>): Promise<void> {
  await fn()
}

function positiveNumber (what: string, max?: number, integer = false) {
  return (text: string): number => {
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)) || (max != null && n > max)) {
      throw new UsageError(`${what} wants a ${integer ? 'whole ' : ''}number above 0${max != null ? ` and at most ${max}` : ''}, not "${text}"`)
    }
    return n
  }
}

function withService (cmd: Command): Command {
  return cmd
    .option('--service <url>', 'Pinning Service API endpoint, http(s) (default: $FRAMEHUB_PIN_SERVICE); a framehub node is http://HOST:PORT')
    .option('--token <token>', 'its access token, sent as a bearer token (default: $FRAMEHUB_PIN_TOKEN; the env keeps it out of `ps`)')
}

/** `pin remote add|ls|rm`: pins on any IPFS Pinning Service API endpoint (another framehub node's /pins, or a hosted service). */
export function registerPin (program: Command): void {
  const pin = program.command('pin').description('pins on remote pinning services')
  const remote = pin.command('remote').description('ask an IPFS Pinning Service API endpoint (e.g. another framehub node) to pin CIDs; needs no local repository')

  withService(remote.command('add'))
    .description('ask the service to pin CID (and everything under it); waits until it is pinned or failed')
    .argument('<cid>', 'the root to pin')
    .option('--name <name>', 'a name for the pin (the service lists and filters by it)')
    .option('--origin <multiaddr>', 'a peer that has the data (…/p2p/PEER-ID), repeatable', collect)
    .option('--background', 'return as soon as the service has queued the request')
    .option('--timeout <seconds>', `how long to wait for pinned or failed (default ${DEFAULT_WAIT_S})`, positiveNumber('--timeout'))
    .addHelpText('after', '\nExit 0 when pinned (or queued, with --background); 1 (ERR_PIN_FAILED) when the service failed to pin it,\n7 (ERR_TIMEOUT) when it was still pending after --timeout (the request stays on the service).')
    .action(async (text: string, opts: ServiceOptions & { name?: string, origin?: string[], background?: boolean, timeout?: number }, command: Command) => {
      const options = globals(command)
      await run(options, async () => {
        const cid = parseCid(text).toString()
        let origins: string[] | undefined
        if (opts.origin != null) {
          const { multiaddr } = await import('@multiformats/multiaddr')
          origins = opts.origin.map((a) => {
            try {
              return multiaddr(a).toString()
            } catch {
              throw new UsageError(`--origin wants a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001/p2p/PEER-ID), not "${a}"`)
            }
          })
        }
        const service = await connect(opts)
        const endpoint = { endpoint: true } as const
        let status = await call(service, endpoint, async (init) => await service.client.pinsPost({ pin: { cid, ...(opts.name != null ? { name: opts.name } : {}), ...(origins != null ? { origins } : {}) } }, init))
        let v = view(status)
        if (opts.background !== true) {
          const waitMs = (opts.timeout ?? DEFAULT_WAIT_S) * 1000
          const deadline = Date.now() + waitMs
          let delay = 100
          while (status.status === 'queued' || status.status === 'pinning') {
            const left = deadline - Date.now()
            if (left <= 0) {
              throw new FramehubError('ERR_TIMEOUT', `pin request ${status.requestid} for ${cid} is still ${status.status} on ${service.url} after ${waitMs / 1000} s; it stays there (see "framehub pin remote ls --status queued,pinning")`, { service: service.url, requestid: status.requestid })
            }
            await sleep(Math.min(delay, left))
            delay = Math.min(delay * 2, MAX_POLL_MS)
            const requestid = status.requestid
            status = await call(service, { requestid }, async (init) => await service.client.pinsRequestidGet({ requestid }, init),
              Math.max(1_000, Math.min(REQUEST_TIMEOUT_MS, deadline - Date.now())))
          }
          v = view(status)
        }
        emit(options, v, () => describe(v))
        if (v.status === 'failed') {
          const details = (v.info as Record<string, string> | undefined)?.status_details
          throw new FramehubError(codes.failed, `the pinning service at ${service.url} failed to pin ${cid}${details != null ? `: ${details}` : ''}`, { service: service.url, requestid: v.requestid })
        }
      })
    })

  withService(remote.command('ls'))
    .description('list pin requests on the service, newest first')
    .option('--cid <cid>', 'only pins of this CID, repeatable or comma-separated (at most 10)', collect)
    .option('--name <name>', 'only pins with this name')
    .option('--match <strategy>', `how --name matches: ${MATCHES.join(', ')} (default exact)`)
    .option('--status <list>', `comma-separated: ${STATES.join(', ')} (default pinned)`)
    .option('--limit <n>', 'at most this many (1 to 1000; default the service\'s, 10)', positiveNumber('--limit', 1000, true))
    .action(async (opts: ServiceOptions & { cid?: string[], name?: string, match?: string, status?: string, limit?: number }, command: Command) => {
      const options = globals(command)
      await run(options, async () => {
        const cids = opts.cid?.flatMap(c => c.split(',')).map(c => c.trim()).filter(c => c !== '').map(c => parseCid(c).toString())
        if (cids != null && cids.length > 10) throw new UsageError(`--cid takes at most 10 CIDs, not ${cids.length}`)
        const status = opts.status?.split(',').map(s => s.trim()).filter(s => s !== '').map((s) => {
          if (!(STATES as readonly string[]).includes(s)) throw new UsageError(`--status wants ${STATES.join(', ')} (comma-separated), not "${s}"`)
          return s as Status
        })
        if (status != null && status.length === 0) throw new UsageError(`--status wants ${STATES.join(', ')} (comma-separated)`)
        if (opts.match != null && !(MATCHES as readonly string[]).includes(opts.match)) throw new UsageError(`--match wants ${MATCHES.join(', ')}, not "${opts.match}"`)
        const service = await connect(opts)
        const r = await call(service, { endpoint: true }, async (init) => await service.client.pinsGet({
          ...(cids != null && cids.length > 0 ? { cid: cids } : {}),
          ...(opts.name != null ? { name: opts.name } : {}),
          ...(opts.match != null ? { match: opts.match as NonNullable<PinsGetRequest['match']> } : {}),
          ...(status != null ? { status } : {}),
          ...(opts.limit != null ? { limit: opts.limit } : {})
        }, init))
        const results = [...(r.results ?? [])].map(view)
        const count = typeof r.count === 'number' ? r.count : results.length
        emit(options, { count, results }, () => {
          if (results.length === 0) return '(no pins)'
          const lines = results.map(p => `${String(p.requestid)}  ${String(p.status).padEnd(7)}  ${String(p.cid)}${p.name != null ? `  ${String(p.name)}` : ''}`)
          if (count > results.length) lines.push(`(${results.length} of ${count}; use --limit for more)`)
          return lines.join('\n')
        })
      })
    })

  withService(remote.command('rm'))
    .description('remove a pin request from the service, or with --cid every pin of a CID')
    .argument('[requestid]', 'the request to remove (see "pin remote ls")')
    .option('--cid <cid>', 'remove every pin request of this CID, whatever its status')
    .action(async (requestid: string | undefined, opts: ServiceOptions & { cid?: string }, command: Command) => {
      const options = globals(command)
      await run(options, async () => {
        if ((requestid == null) === (opts.cid == null)) throw new UsageError('give either a REQUESTID or --cid CID')
        const cid = opts.cid != null ? parseCid(opts.cid).toString() : undefined
        const service = await connect(opts)
        const removed: string[] = []
        if (requestid != null) {
          await call(service, { requestid }, async (init) => { await service.client.pinsRequestidDelete({ requestid }, init) })
          removed.push(requestid)
        } else {
          // Listed and removed page by page; a request the service keeps listing ends the loop.
          const seen = new Set<string>()
          for (;;) {
            const page = await call(service, { endpoint: true }, async (init) => await service.client.pinsGet({ cid: [cid as string], status: [...STATES] as Status[], limit: PAGE }, init))
            const ids = [...(page.results ?? [])].map(p => view(p).requestid as string).filter(id => !seen.has(id))
            if (ids.length === 0) break
            for (const id of ids) {
              seen.add(id)
              try {
                await call(service, { requestid: id }, async (init) => { await service.client.pinsRequestidDelete({ requestid: id }, init) })
                removed.push(id)
              } catch (err) {
                // Removed by someone else since the listing: what was asked for is done.
                if (!isFramehubError(err) || err.code !== codes.notFound) throw err
              }
            }
          }
          if (removed.length === 0) throw new FramehubError(codes.notFound, `no pin requests for ${cid as string} on the pinning service at ${service.url}`, { service: service.url, cid })
        }
        emit(options, { removed }, () => removed.map(id => `removed ${id}`).join('\n'))
      })
    })
}
