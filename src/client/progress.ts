import { FramehubError, isFramehubError } from '../core/errors.ts'
import type { Code } from '../core/errors.ts'
import { DAEMON_UNREACHABLE } from './api.ts'
import type { ApiClient, ApiRequest } from './api.ts'

const NDJSON_TYPE = 'application/x-ndjson'

/**
 * Long work on the daemon (gc, index rebuild, verify), followed as it goes: the request asks for
 * NDJSON progress (`src/http/long-work.ts`), `onProgress` gets each `{"progress"}` line, and the
 * `{"result"}` line is the answer (an `{"error"}` line is thrown as the FramehubError it names).
 * The daemon writes a line at least every few seconds, so the client's timeout (silence) only
 * fires when the daemon stops answering. A daemon that answers plain JSON is read as such.
 */
export async function progressJson<T, P = unknown> (api: ApiClient, path: string, req: ApiRequest = {}, onProgress?: (progress: P) => void): Promise<T> {
  const res = await api.request(path, { ...req, accept: `${NDJSON_TYPE}, application/json;q=0.5` })
  const type = res.headers.get('content-type') ?? ''
  try {
    if (!type.startsWith(NDJSON_TYPE) || res.body == null) return await res.json() as T
    const decoder = new TextDecoder()
    let pending = ''
    for await (const chunk of res.body) {
      pending += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, end).trim()
        pending = pending.slice(end + 1)
        if (text === '') continue
        const line = JSON.parse(text) as { progress?: P, result?: T, error?: { code?: unknown, message?: unknown, details?: unknown } }
        if (line.error != null) {
          const { code, message, details } = line.error
          // A code this registry lacks (a daemon of another version) is passed on as sent, as in api.ts.
          throw new FramehubError(typeof code === 'string' ? code as Code : 'ERR_INTERNAL', typeof message === 'string' ? message : 'the daemon reported an error',
            details !== null && typeof details === 'object' ? details as Record<string, unknown> : undefined)
        }
        // Leaving the loop cancels the rest of the body.
        if ('result' in line) return line.result as T
        if (line.progress !== undefined) onProgress?.(line.progress)
      }
    }
  } catch (err) {
    if (isFramehubError(err)) throw err
    throw new FramehubError(DAEMON_UNREACHABLE, `the answer of the framehub daemon at ${api.url} broke off: ${(err as Error).message}`, undefined, { cause: err })
  }
  throw new FramehubError(DAEMON_UNREACHABLE, `the framehub daemon at ${api.url} ended its answer before the result (did it stop?)`)
}
