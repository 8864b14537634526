import type { Command } from 'commander'
import { parseCid } from '../../core/cid.ts'
import { FramehubError, UsageError } from '../../core/errors.ts'
import { PIN_CODES, PIN_MATCHES as MATCHES, PIN_STATES as STATES } from '../../client/pinning-service.ts'
import type { ListPinsQuery, PinningService, PinView } from '../../client/pinning-service.ts'
import { collect, globals } from '../context.ts'
import { emit } from '../output.ts'
import type { GlobalOptions } from '../output.ts'

/** How long `add` waits for the pin to settle unless told otherwise, s. */
const DEFAULT_WAIT_S = 60

interface ServiceOptions { service?: string, token?: string }

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

/** The pinning service's client; where it is and how to get in: options first, then FRAMEHUB_PIN_SERVICE / FRAMEHUB_PIN_TOKEN. */
async function connect (opts: ServiceOptions): Promise<PinningService> {
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
  const { createPinningService } = await import('../../client/pinning-service.ts')
  return await createPinningService({ url, token })
}

function describe (v: PinView): string {
  const lines = [`requestid ${v.requestid}`, `status    ${v.status}`, `cid       ${v.cid}`, `name      ${v.name == null ? '(none)' : v.name}`]
  const details = v.info?.status_details
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
        const v = await service.add(cid, { name: opts.name, origins, background: opts.background, waitMs: (opts.timeout ?? DEFAULT_WAIT_S) * 1000 })
        emit(options, v, () => describe(v))
        if (v.status === 'failed') {
          const details = v.info?.status_details
          throw new FramehubError(PIN_CODES.failed, `the pinning service at ${service.url} failed to pin ${cid}${details != null ? `: ${details}` : ''}`, { service: service.url, requestid: v.requestid })
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
          return s as typeof STATES[number]
        })
        if (status != null && status.length === 0) throw new UsageError(`--status wants ${STATES.join(', ')} (comma-separated)`)
        if (opts.match != null && !(MATCHES as readonly string[]).includes(opts.match)) throw new UsageError(`--match wants ${MATCHES.join(', ')}, not "${opts.match}"`)
        const service = await connect(opts)
        const { count, results } = await service.list({ cid: cids, name: opts.name, match: opts.match as ListPinsQuery['match'], status, limit: opts.limit })
        emit(options, { count, results }, () => {
          if (results.length === 0) return '(no pins)'
          const lines = results.map(p => `${p.requestid}  ${String(p.status).padEnd(7)}  ${p.cid}${p.name != null ? `  ${p.name}` : ''}`)
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
        let removed: string[]
        if (requestid != null) {
          await service.remove(requestid)
          removed = [requestid]
        } else {
          removed = await service.removeAll(cid as string)
        }
        emit(options, { removed }, () => removed.map(id => `removed ${id}`).join('\n'))
      })
    })
}
