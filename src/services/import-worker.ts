/**
 * A worker thread of the import pool (`import-workers.ts`): encodes runs of NDJSON lines with
 * `encodeFrameLines`, the same code the main thread runs for small imports, and hands the packed
 * result back without copying its buffers.
 *
 * Only Node built-ins are imported statically: the worker first switches on the compile cache
 * the main thread uses (its directory comes as `workerData.compileCache`), then loads framehub's
 * modules from it. Type stripping them anew was a third of a worker's start.
 */
import { enableCompileCache } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import type { EncodedFrames } from '../core/frame-lines.ts'

export interface EncodeTask {
  id: number
  /** The run: lines, or UTF-8 NDJSON bytes of whole lines (`core/ndjson-runs.ts`). */
  lines: string[] | Uint8Array
  first: number
  source: string
}

/** An error as it crosses threads (framehub's errors keep their code and details). */
export interface ErrorData {
  name: string
  message: string
  code?: string
  details?: Record<string, unknown>
}

export type EncodeAnswer =
  | { id: number, frames: Omit<EncodedFrames, 'failure'>, failure?: ErrorData }
  | { id: number, error: ErrorData }

export function errorData (err: unknown): ErrorData {
  const e = err as { name?: unknown, message?: unknown, code?: unknown, details?: unknown }
  const out: ErrorData = { name: typeof e?.name === 'string' ? e.name : 'Error', message: typeof e?.message === 'string' ? e.message : String(err) }
  if (typeof e?.code === 'string') out.code = e.code
  if (e?.details != null && typeof e.details === 'object') out.details = e.details as Record<string, unknown>
  return out
}

const cache = (workerData as { compileCache?: unknown } | null)?.compileCache
if (typeof cache === 'string') {
  try {
    enableCompileCache(cache)
  } catch {}
}
const { encodeFrameBytes, encodeFrameLines } = await import('../core/frame-lines.ts')

const port = parentPort
if (port != null) {
  port.on('message', (task: EncodeTask) => {
    try {
      const { failure, ...frames } = Array.isArray(task.lines) ? encodeFrameLines(task.lines, task.first, task.source) : encodeFrameBytes(task.lines, task.first, task.source)
      const answer: EncodeAnswer = failure === undefined ? { id: task.id, frames } : { id: task.id, frames, failure: errorData(failure) }
      port.postMessage(answer, [frames.cids.buffer, frames.keys.buffer, frames.sorted.buffer, frames.bytes.buffer, frames.ends.buffer, frames.lineNumbers.buffer])
    } catch (err) {
      port.postMessage({ id: task.id, error: errorData(err) } satisfies EncodeAnswer)
    }
  })
  port.postMessage({ ready: true })
}
