/**
 * A worker thread of the import pool (`import-workers.ts`): encodes runs of NDJSON lines with
 * `encodeFrameLines`, the same code the main thread runs for small imports, and hands the packed
 * result back without copying its buffers. At the end of a big import it makes the leaves of the
 * tree for part of the frames (`packLeaves`) while the main thread makes the others.
 *
 * Only Node built-ins are imported statically: the worker first switches on the compile cache
 * the main thread uses (its directory comes as `workerData.compileCache`), then loads framehub's
 * modules from it. Type stripping them anew was a third of a worker's start.
 */
import { enableCompileCache } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import type { EncodedFrames } from '../core/frame-lines.ts'
import type { PackedLeaves } from '../core/tree/index.ts'

export interface EncodeTask {
  id: number
  /** The run: lines, or UTF-8 NDJSON bytes of whole lines (`core/ndjson-runs.ts`), handed back in the answer. */
  lines: string[] | Uint8Array<ArrayBuffer>
  /** A buffer for the run's blocks (`encodedBuffers`): handed back as `spare` if they do not fit. */
  into?: ArrayBuffer
  first: number
  source: string
}

/** The tree's leaves for frames in id order (`packLeaves`): `ids` start at a leaf and end where one ends. */
export interface LeavesTask {
  id: number
  leaves: { ids: string[], cids: Uint8Array<ArrayBuffer>, width: number }
}

export type LeavesAnswer = { id: number, leaves: PackedLeaves } | { id: number, error: ErrorData }

/** An error as it crosses threads (framehub's errors keep their code and details). */
export interface ErrorData {
  name: string
  message: string
  code?: string
  details?: Record<string, unknown>
}

/**
 * `input`: the run's bytes handed back once decoded, for the next run to be read into
 * (`runBuffers`); `spare`: the task's `into` when the blocks did not go there.
 */
export type EncodeAnswer =
  | { id: number, frames: Omit<EncodedFrames, 'failure'>, failure?: ErrorData, input?: ArrayBuffer, spare?: ArrayBuffer }
  | { id: number, error: ErrorData, input?: ArrayBuffer, spare?: ArrayBuffer }

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
const [{ encodeFrameBytes, encodeFrameLines }, { packLeaves }] = await Promise.all([import('../core/frame-lines.ts'), import('../core/tree/index.ts')])

const port = parentPort
if (port != null) {
  port.on('message', (task: EncodeTask | LeavesTask) => {
    if ('leaves' in task) {
      try {
        const leaves = packLeaves(task.leaves.ids, task.leaves.cids, task.leaves.width)
        port.postMessage({ id: task.id, leaves } satisfies LeavesAnswer, [leaves.bytes.buffer, leaves.ends.buffer, leaves.counts.buffer, leaves.cids.buffer])
      } catch (err) {
        port.postMessage({ id: task.id, error: errorData(err) } satisfies LeavesAnswer)
      }
      return
    }
    // The run's bytes go back once decoded (their lines are strings by then), and the buffer for
    // its blocks if they went elsewhere.
    const input = Array.isArray(task.lines) ? undefined : task.lines.buffer
    const into = task.into !== undefined ? new Uint8Array(task.into) : undefined
    const back = (used?: ArrayBuffer): { input?: ArrayBuffer, spare?: ArrayBuffer, transfer: ArrayBuffer[] } => {
      const spare = task.into !== undefined && task.into !== used ? task.into : undefined
      return { input, spare, transfer: [input, spare].filter(b => b !== undefined) }
    }
    try {
      const { failure, ...frames } = Array.isArray(task.lines) ? encodeFrameLines(task.lines, task.first, task.source, into) : encodeFrameBytes(task.lines, task.first, task.source, into)
      const { transfer, ...buffers } = back(frames.bytes.buffer)
      const answer: EncodeAnswer = failure === undefined ? { id: task.id, frames, ...buffers } : { id: task.id, frames, failure: errorData(failure), ...buffers }
      port.postMessage(answer, [frames.cids.buffer, frames.keys.buffer, frames.sorted.buffer, frames.bytes.buffer, frames.ends.buffer, frames.lineNumbers.buffer, ...transfer])
    } catch (err) {
      const { transfer, ...buffers } = back()
      port.postMessage({ id: task.id, error: errorData(err), ...buffers } satisfies EncodeAnswer, transfer)
    }
  })
  port.postMessage({ ready: true })
}
