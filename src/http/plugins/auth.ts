import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { httpCodes, HttpError } from '../errors.ts'

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/**
 * An onRequest hook (runs before the body is read) that lets a request through only with `Authorization: Bearer <token>`.
 * Compares digests in constant time, so the token does not leak through timing.
 */
export function bearerAuth (token: string): onRequestHookHandler {
  const expected = digest(token)
  return function checkBearer (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    const header = request.headers.authorization
    if (header === undefined || header === '') {
      done(new HttpError(httpCodes.unauthorized, 'this endpoint needs "Authorization: Bearer <token>" (see "framehub config")'))
      return
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (m == null || !timingSafeEqual(digest(m[1] as string), expected)) {
      done(new HttpError(httpCodes.unauthorized, 'the bearer token is not valid for this node'))
      return
    }
    done()
  }
}
