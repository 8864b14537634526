import { PassThrough } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { describeError, httpCodes, HttpError } from './errors.ts'

/**
 * Long maintenance work over HTTP (`POST /gc`, `POST /index/rebuild`, `GET /verify`): a client
 * that sends `Accept: application/x-ndjson` gets status 200 and the headers at once, then one
 * JSON document per line:
 *
 * - `{"progress": {...}}` whenever the work reports progress, and at least every
 *   `HEARTBEAT_MS` (the last progress again, `{}` before the first), so the connection is never
 *   idle while the work runs, however long it takes;
 * - then exactly one `{"result": {...}}` (the plain answer's body) or
 *   `{"error": {"code", "message"}}` (the body an error status would have had).
 *
 * The work stops when the client goes away, and has no time limit of its own: the client is
 * watching it, and gives up with its own timeout if the lines stop coming. Without that Accept
 * header the route answers one JSON document when the work is done, as before.
 */
export const NDJSON_TYPE = 'application/x-ndjson'

/** Longest the gateway stays silent on a progress stream, ms. */
export const HEARTBEAT_MS = 5000

/** True if the request asks for progress as NDJSON. */
export function wantsProgress (request: FastifyRequest): boolean {
  return /(^|,)\s*application\/x-ndjson\s*(;|,|$)/i.test(request.headers.accept ?? '')
}

/** What a long route gives its work: where to report progress, and the signal of the client going away. */
export interface LongWork<P> {
  report: (progress: P) => void
  signal: AbortSignal
}

/** Answers `work` as a progress stream (see above); `view` turns its result into the result line. */
export async function answerWithProgress<P, R> (
  request: FastifyRequest, reply: FastifyReply, work: (io: LongWork<P>) => Promise<R>, view: (result: R) => unknown, heartbeatMs = HEARTBEAT_MS
): Promise<FastifyReply> {
  const out = new PassThrough()
  const line = (value: unknown): void => { if (!out.writableEnded && !out.destroyed) out.write(JSON.stringify(value) + '\n') }
  const controller = new AbortController()
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new HttpError(httpCodes.timeout, 'the client went away'))
  })
  let last: P | undefined
  const heartbeat = setInterval(() => { line({ progress: last ?? {} }) }, heartbeatMs)
  void (async () => {
    try {
      const result = await work({ report: (p) => { last = p; line({ progress: p }) }, signal: controller.signal })
      line({ result: view(result) })
    } catch (err) {
      const { status, body } = describeError(err)
      if (status >= 500 && !controller.signal.aborted) request.log.error({ err }, 'long work failed')
      line({ error: body })
    } finally {
      clearInterval(heartbeat)
      out.end()
    }
  })()
  return await reply.code(200).type(NDJSON_TYPE).header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').send(out)
}
