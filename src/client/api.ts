import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { FramehubError } from '../core/errors.ts'
import type { Code } from '../core/errors.ts'

/** Where the daemon's gateway is and how to authenticate to it (from the repo's `api.json`). */
export interface ApiClientInit {
  /** Base URL of the gateway, e.g. http://127.0.0.1:8080 (the API is under /api/v1). */
  url: string
  /** Bearer token for write endpoints (sent with every request). */
  token: string
  /**
   * Longest the daemon may stay silent, ms: until its answer's headers, then between two pieces
   * of its body. Past it the request is dropped with ERR_TIMEOUT (default 300 s). Long work
   * streams progress (see `progressJson`), so it is never silent that long.
   */
  timeoutMs?: number
}

/** Default of `ApiClientInit.timeoutMs`. */
export const DEFAULT_TIMEOUT_MS = 300_000

export interface ApiRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** Query parameters; undefined ones are left out. */
  query?: Record<string, string | number | boolean | undefined>
  /** A JSON body. */
  json?: unknown
  /** A raw body (bytes or a stream of bytes) and its media type. */
  body?: Uint8Array | AsyncIterable<Uint8Array>
  contentType?: string
  /** The Accept header (default JSON). */
  accept?: string
  /** More request headers (e.g. `if-match`); undefined ones are left out. */
  headers?: Record<string, string | undefined>
  signal?: AbortSignal
}

/** The daemon's HTTP API, answering the gateway's errors as FramehubErrors with the same code. */
export interface ApiClient {
  readonly url: string
  /** Sends a request to `<prefix><path>` and returns its 2xx response. */
  request (path: string, request?: ApiRequest): Promise<Response>
  /** Like request, and parses the JSON answer. */
  json<T> (path: string, request?: ApiRequest): Promise<T>
}

/** Raised when the daemon cannot be reached at all (not running, or gone mid-command). */
export const DAEMON_UNREACHABLE = 'ERR_DAEMON_UNREACHABLE' satisfies Code

/** One URL path segment: everything escaped, `/` included (the gateway decodes `%2F` in parameters). */
export const segment = (text: string): string => encodeURIComponent(text)

/**
 * True if `text` cannot travel as a path segment: URLs resolve `.` and `..` (also escaped as %2E)
 * before the request leaves, so such names need another route.
 */
/** Attempts of a request the daemon answers with 503 (overloaded) before the error is shown. */
const RETRIES = 4

export const isDotSegment = (text: string): boolean => text === '.' || text === '..'

/** A client of the gateway at `init.url`; paths are under `prefix` (default the query API, /api/v1). */
export function createApiClient (init: ApiClientInit, prefix = '/api/v1'): ApiClient {
  const base = init.url.replace(/\/+$/, '')
  const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const request = async (path: string, req: ApiRequest = {}): Promise<Response> => {
    const silence = silenceTimer(base, timeoutMs)
    const signal = req.signal != null ? AbortSignal.any([req.signal, silence.signal]) : silence.signal
    // An upload in progress is not silence: each piece sent restarts the clock.
    const body = req.body != null && !(req.body instanceof Uint8Array) ? sending(req.body, silence.touch) : req.body
    try {
      return silence.watch(await send(path, { ...req, body }, signal))
    } catch (err) {
      silence.stop()
      throw err
    }
  }
  const send = async (path: string, req: ApiRequest, signal: AbortSignal): Promise<Response> => {
    const url = new URL(`${base}${prefix}${path}`)
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v))
    const headers: Record<string, string> = { authorization: `Bearer ${init.token}`, accept: req.accept ?? 'application/json, */*' }
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v
    let body: RequestInit['body']
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json'
      try {
        body = JSON.stringify(req.json)
      } catch (err) {
        // A value nested past what V8 can write (services refuse such values before they get here).
        throw new FramehubError('ERR_JSON_INVALID', `the request cannot be written as JSON: ${(err as Error).message}`)
      }
    } else if (req.body !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/octet-stream'
      body = req.body
    }
    const streamed = body != null && typeof body === 'object' && Symbol.asyncIterator in body
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : undefined
    let res: Response
    for (let attempt = 1; ; attempt++) {
      try {
        res = await fetch(url, {
          method: req.method ?? 'GET',
          headers,
          body,
          signal,
          // A streamed body: the response may only be read once the whole upload is sent.
          ...(streamed ? { duplex: 'half' as const } : {})
        })
      } catch (err) {
        // The daemon refuses an upload over its limit as soon as it reads the Content-Length (413)
        // and closes the connection, and the upload still under way usually fails first (EPIPE,
        // ECONNRESET), losing the answer. Asked again with only the headers, it gives that answer.
        const answer = length != null && cutOff(err) ? await askDeclared(url, req.method ?? 'GET', headers, length) : undefined
        if (answer == null) throw unreachable(base, err)
        res = answer
        break
      }
      // A daemon shedding load (503 + Retry-After) is asked again a few times, briefly; a streamed
      // upload cannot be sent twice.
      if (res.status !== 503 || streamed || attempt >= RETRIES || res.headers.get('retry-after') == null) break
      await res.body?.cancel()
      await sleep(Math.min(Number(res.headers.get('retry-after')) * 1000 || 500, 250 * 2 ** attempt))
    }
    if (res.ok) return res
    throw await errorOf(res)
  }
  return {
    url: base,
    request,
    json: async <T>(path: string, req?: ApiRequest): Promise<T> => {
      const res = await request(path, req)
      try {
        return await res.json() as T
      } catch (err) {
        throw unreachable(base, err)
      }
    }
  }
}

/** Socket errors of a connection cut while the request was being sent (not: nothing listens). */
const CUT_OFF = new Set(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET'])

function cutOff (err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown } }).cause
  return typeof cause?.code === 'string' && CUT_OFF.has(cause.code)
}

/** How long the daemon has to answer a request sent with headers only. */
const ASK_DECLARED_MS = 2000

/**
 * Sends the request's headers, Content-Length `length` included, and none of its body: a daemon
 * that refuses the upload from its headers (413 over its limit, 401) answers at once. Returns that
 * error answer, or undefined if none comes (the connection was cut for another reason).
 */
async function askDeclared (url: URL, method: string, headers: Record<string, string>, length: number): Promise<Response | undefined> {
  if (url.protocol !== 'http:') return undefined
  return await new Promise((resolve) => {
    let settled = false
    const request = httpRequest(url, { method, headers: { ...headers, 'content-length': String(length) }, timeout: ASK_DECLARED_MS })
    const settle = (answer?: Response): void => {
      if (settled) return
      settled = true
      request.destroy()
      resolve(answer)
    }
    request.on('response', (incoming) => {
      const status = incoming.statusCode ?? 0
      if (status < 400) { settle(); return }
      const chunks: Buffer[] = []
      const answer = (): void => { settle(new Response(Buffer.concat(chunks), { status, statusText: incoming.statusMessage ?? '' })) }
      incoming.on('data', (c: Buffer) => chunks.push(c)).once('end', answer).once('error', answer).once('close', answer)
    })
    request.once('timeout', () => { settle() })
    request.once('error', () => { settle() })
    request.flushHeaders()
  })
}

/** Codes for error answers without a readable `{code, message}` body. */
const codeOfStatus: Readonly<Record<number, Code>> = { 413: 'ERR_PAYLOAD_TOO_LARGE', 401: 'ERR_UNAUTHORIZED', 429: 'ERR_RATE_LIMITED', 503: 'ERR_OVERLOADED' }

/** The gateway's `{code, message}` as the FramehubError the service would have thrown in-process. */
async function errorOf (res: Response): Promise<FramehubError> {
  let body: { code?: unknown, message?: unknown, details?: unknown } | undefined
  try {
    body = await res.json() as typeof body
  } catch {
    body = undefined
  }
  if (typeof body?.code === 'string' && body.code.startsWith('ERR_') && typeof body.message === 'string') {
    const details = body.details !== null && typeof body.details === 'object' ? body.details as Record<string, unknown> : undefined
    // A daemon of another version may send a code this registry lacks: it is passed on as sent (exit 1).
    return new FramehubError(body.code as Code, body.message, details)
  }
  const code = codeOfStatus[res.status]
  if (code != null) return new FramehubError(code, `the daemon answered ${res.status} ${res.statusText}`.trimEnd())
  return new FramehubError('ERR_INTERNAL', `the daemon answered ${res.status} ${res.statusText} without an error body`)
}

/**
 * The client's own timeout: aborts a request (with ERR_TIMEOUT) when the daemon sends nothing for
 * `ms`, first its headers, then each piece of the body (`watch` wraps the body to see them).
 */
function silenceTimer (base: string, ms: number): { signal: AbortSignal, watch: (res: Response) => Response, touch: () => void, stop: () => void } {
  const controller = new AbortController()
  const fire = (): void => {
    controller.abort(new FramehubError('ERR_TIMEOUT', `the framehub daemon at ${base} sent nothing for ${ms / 1000} s (FRAMEHUB_DAEMON_TIMEOUT)`))
  }
  let timer = setTimeout(fire, ms)
  // A response nobody reads to its end must not keep the process alive.
  timer.unref()
  const stop = (): void => { clearTimeout(timer) }
  const touch = (): void => { clearTimeout(timer); timer = setTimeout(fire, ms); timer.unref() }
  const watch = (res: Response): Response => {
    if (res.body == null) { stop(); return res }
    touch()
    const body = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform (chunk, out) { touch(); out.enqueue(chunk) },
      flush () { stop() }
    }))
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
  }
  return { signal: controller.signal, watch, touch, stop }
}

async function * sending (body: AsyncIterable<Uint8Array>, touch: () => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    touch()
    yield chunk
  }
}

/** undici's own timeouts (its defaults: 300 s for the headers and between body pieces). */
const UNDICI_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

function unreachable (base: string, err: unknown): FramehubError {
  if (err instanceof FramehubError) return err
  const e = err as { name?: string, message?: string, cause?: { code?: string, message?: string } }
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || UNDICI_TIMEOUTS.has(e.cause?.code ?? '')) {
    return new FramehubError('ERR_TIMEOUT', `the request to the framehub daemon at ${base} was aborted or timed out`)
  }
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)
  return new FramehubError(DAEMON_UNREACHABLE, `cannot reach the framehub daemon at ${base}: ${why}`, undefined, { cause: err })
}
