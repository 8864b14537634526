import type { IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CID } from 'multiformats/cid'
import rangeParser from 'range-parser'
import { httpCodes, HttpError } from './errors.ts'

/** Encodes a page cursor: opaque to clients (base64url JSON), checked when it comes back. */
export function encodeCursor (value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** Decodes a cursor made by encodeCursor; `ERR_VALIDATION` (400) for anything else. */
export function decodeCursor<T extends Record<string, unknown>> (text: string, check: (value: Record<string, unknown>) => value is T): T {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    value = undefined
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !check(value as Record<string, unknown>)) {
    throw new HttpError(httpCodes.validation, 'querystring/cursor is not a cursor this gateway gave out')
  }
  return value as T
}

/**
 * An AbortSignal for the work of one request: aborted when the client goes away before the
 * response is complete, or after `timeoutMs`.
 */
export function requestSignal (request: FastifyRequest, reply: FastifyReply, timeoutMs: number): AbortSignal {
  const controller = new AbortController()
  // One timer per request, cleared when the response ends: AbortSignal.timeout cannot be
  // cancelled and kept every request's signal alive for the whole timeout.
  const timer = setTimeout(() => { controller.abort(new HttpError(httpCodes.timeout, `request took longer than ${timeoutMs} ms`)) }, timeoutMs)
  timer.unref()
  reply.raw.once('close', () => {
    clearTimeout(timer)
    if (!reply.raw.writableFinished) controller.abort(new HttpError(httpCodes.timeout, 'client went away'))
  })
  void request
  return controller.signal
}

export const cidText = (cid: CID): string => cid.toString()
export const cidsText = (cids: readonly CID[]): string[] => cids.map(c => c.toString())
export const maybeCidText = (cid: CID | null | undefined): string | null => cid == null ? null : cid.toString()

/**
 * Reads and discards what is left of a request body, so that an error answered before the whole
 * upload arrived reaches a client that is still sending (instead of a reset connection). Bounded:
 * past `limit` more bytes or `timeoutMs` the connection is dropped instead.
 */
export async function drainBody (body: IncomingMessage, limit: number, timeoutMs = 10_000): Promise<void> {
  if (body.readableEnded || body.destroyed) return
  await new Promise<void>((resolve) => {
    let drained = 0
    const finish = (): void => {
      clearTimeout(timer)
      body.off('data', onData).off('end', finish).off('close', finish).off('error', finish)
      resolve()
    }
    const onData = (chunk: Buffer): void => {
      drained += chunk.byteLength
      if (drained > limit) { body.destroy(); finish() }
    }
    const timer = setTimeout(() => { body.destroy(); finish() }, timeoutMs)
    body.on('data', onData).once('end', finish).once('close', finish).once('error', finish)
    body.resume()
  })
}

/** Refuses an upload whose declared Content-Length is over `limit` before any of it is read. */
export function refuseDeclaredOver (request: FastifyRequest, limit: number, what: string): void {
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(httpCodes.payloadTooLarge, `the ${what} is larger than the limit of ${limit} bytes`)
  }
}

/**
 * Reads a `Range` header for a body of `size` bytes: one byte range (inclusive `end`), null (serve
 * the whole body), or 'unsatisfiable' (416 with `Content-Range: bytes *\/size`).
 *
 * range-parser reads the header; two of its answers are read as RFC 9110 14.1.1-14.1.2 do: a
 * range whose last byte comes before its first is invalid, so the header is ignored (range-parser:
 * unsatisfiable), and a suffix longer than the body asks for all of it (range-parser:
 * unsatisfiable). Several ranges, other units and malformed headers are ignored, which RFC 9110
 * 14.2 allows: the whole body is sent.
 */
export function parseRange (header: string | undefined, size: number): { start: number, end: number } | null | 'unsatisfiable' {
  if (header == null) return null
  const spec = header.trim()
  if (spec.includes(',')) return null
  const ranges = rangeParser(size, spec)
  if (ranges === -2 || spec.slice(0, spec.indexOf('=')) !== 'bytes') return null
  if (ranges !== -1) {
    const range = ranges[0]
    return range == null ? 'unsatisfiable' : { start: range.start, end: range.end }
  }
  // range-parser found one well-formed range it calls unsatisfiable.
  const [first = '', last = ''] = spec.slice(spec.indexOf('=') + 1).split('-').map(p => p.trim())
  if (first === '') return Number(last) > 0 && size > 0 ? { start: 0, end: size - 1 } : 'unsatisfiable'
  if (last !== '' && Number(last) < Number(first)) return null
  return 'unsatisfiable'
}
