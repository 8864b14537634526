import type { IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { httpCodes, HttpError } from './errors.ts'

/* One request's lifetime: its AbortSignal, and bodies refused or drained before they are read. */

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
