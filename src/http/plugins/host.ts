import { isIP } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { httpCodes, HttpError } from '../errors.ts'

/**
 * The `Host` check against DNS rebinding: a web page on a name its owner points at 127.0.0.1 can
 * make a browser send requests to the gateway and read the answers of the routes that need no
 * token (blocks, frames, metrics) as the page's own origin. Such a request names the attacker's
 * host in `Host`, so the gateway answers only requests whose `Host` names it:
 *
 * - `localhost`, the address it listens on, and (listening on loopback) `127.0.0.1` and `[::1]`,
 *   each with the port it listens on (without a port when that is 80);
 * - the address a request actually came in on (`Host: 192.168.1.5:8080` when listening on all
 *   interfaces);
 * - the names given with `allowHosts` (`--allow-host`): `HOST` (any port) or `HOST:PORT`,
 *   IPv6 as `[::1]:8080`; `*` allows every host.
 *
 * Listening on all interfaces (0.0.0.0 or ::) without `allowHosts` allows every host: such a node
 * is meant to be reached by names this node cannot know (a container's service name, a published
 * port). Give `--allow-host` to name them and the check applies again.
 *
 * Requests that did not come over a socket (`app.inject`) are not checked. Answers 403
 * ERR_HOST_NOT_ALLOWED.
 */
export function hostCheck (app: FastifyInstance, allowHosts: readonly string[] = []): void {
  const entries = allowHosts.map(parseAllowHost)
  // Until the server listens (app.inject) nothing is checked.
  let allowed: HostPolicy = () => true
  app.addHook('onListen', (done) => {
    allowed = hostPolicy(app.addresses().filter((a): a is AddressInfo => typeof a === 'object'), entries)
    done()
  })
  app.addHook('onRequest', (request, _reply, done) => {
    const host = request.headers.host
    // The socket goes in as is: its localAddress is a getter (a getsockname call and an object),
    // read only when the header is not one of the gateway's own names.
    if (allowed(host, request.raw.socket as LocalEnd | null | undefined)) { done(); return }
    done(new HttpError(httpCodes.hostNotAllowed, `Host "${String(host ?? '')}" does not name this gateway: start the daemon with --allow-host ${hostName(host ?? '') || 'HOST'} to allow it`))
  })
}

/** The local end of the connection a request came in on (a socket; app.inject's has no address). */
export interface LocalEnd { readonly localAddress?: string, readonly localPort?: number }

/** Whether a request with this `Host`, received on this connection, is answered. */
export type HostPolicy = (host: string | undefined, local: LocalEnd | null | undefined) => boolean

/** The policy of a gateway listening on `bound`, with `--allow-host` entries (see hostCheck). */
export function hostPolicy (bound: readonly AddressInfo[], entries: ReadonlyArray<{ host: string, port?: number }>): HostPolicy {
  const wildcard = bound.some(a => a.address === '0.0.0.0' || a.address === '::')
  if (entries.some(e => e.host === '*') || (wildcard && entries.length === 0)) return () => true
  /** Exact `Host` values allowed (lower case). */
  const exact = new Set<string>()
  /** Hosts allowed on any port. */
  const anyPort = new Set<string>()
  for (const e of entries) {
    if (e.port === undefined) anyPort.add(e.host)
    else exact.add(`${e.host}:${e.port}`)
  }
  for (const a of bound) {
    for (const name of ['localhost', a.address, ...(isLoopback(a.address) ? ['127.0.0.1', '::1'] : [])]) {
      for (const host of hostValues(name, a.port)) exact.add(host)
    }
  }
  return (host, local) => {
    // The common case first: one lookup of the header as sent.
    if (host !== undefined && exact.has(host)) return true
    // Not a network request (app.inject), or a client without Host (HTTP/1.0; no browser).
    const localAddress = local?.localAddress
    if (localAddress === undefined || host === undefined) return true
    const lower = host.toLowerCase()
    if (exact.has(lower) || anyPort.has(hostName(lower))) return true
    // The address the client connected to, by its literal (no name to rebind).
    return hostValues(localAddress, local?.localPort ?? 0).includes(lower)
  }
}

/** `Host` values that name `address` on `port`: with the port, and without it on port 80. */
function hostValues (address: string, port: number): string[] {
  const name = isIP(unmapped(address)) === 6 ? `[${unmapped(address)}]` : unmapped(address).toLowerCase()
  return port === 80 ? [`${name}:80`, name] : [`${name}:${port}`]
}

/** The host of a `Host` value, without the port (IPv6 keeps its brackets). */
function hostName (host: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(host)
  return (m?.[1] ?? host).toLowerCase()
}

const unmapped = (address: string): string => address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address

function isLoopback (address: string): boolean {
  const a = unmapped(address)
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'))
}

/** Parses one `--allow-host` value: `*`, `HOST` or `HOST:PORT` (IPv6 in brackets). */
export function parseAllowHost (text: string): { host: string, port?: number } {
  const value = text.trim().toLowerCase()
  if (value === '*') return { host: '*' }
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(?::(\d{1,5}))?$/.exec(value)
  const port = m?.[3] === undefined ? undefined : Number(m[3])
  if (m == null || (port !== undefined && (port < 1 || port > 65535)) || (m[1]?.startsWith('[') === true && isIP(m[1].slice(1, -1)) !== 6)) {
    throw new RangeError(`--allow-host wants HOST, HOST:PORT, [IPv6]:PORT or *, not "${text}"`)
  }
  return { host: m[1] as string, port }
}
