/**
 * Worker threads for big imports. Parsing, validating, canonicalising, encoding and hashing the
 * frames of an NDJSON import is most of its CPU time, and each line is independent, so runs of
 * lines are encoded on worker threads (`import-worker.ts`, running the same `encodeFrameLines`
 * as the main thread) while the main thread writes the batches and builds the tree.
 *
 * The pool starts only when an import passes `importPool.threshold` lines (starting a worker
 * costs more than encoding a small import), is shared by the imports of a process, never keeps
 * the process alive (its workers are unreferenced while idle) and is shut down after
 * `importPool.idleMs` without work.
 */
import { loadavg } from 'node:os'
import type { Worker } from 'node:worker_threads'
import { ENCODED_BUFFER_BYTES, encodeFrameBytes, encodeFrameLines, encodedBuffers } from '../core/frame-lines.ts'
import type { EncodedFrames } from '../core/frame-lines.ts'
import { runBuffers } from '../core/ndjson-runs.ts'
import type { NdjsonRun } from '../core/ndjson-runs.ts'
import { FramehubError, isCode } from '../core/errors.ts'
import type { PackedLeaves } from '../core/tree/index.ts'
import type { EncodeAnswer, EncodeTask, ErrorData, LeavesAnswer, LeavesTask } from './import-worker.ts'
import { idleCoresSinceStart } from './idle-cores.ts'
import { importPool, spawnImportWorker, takePrestartedWorker } from './import-worker-spawn.ts'

export { importPool }

interface Task {
  resolve: (answer: EncodedFrames | PackedLeaves) => void
  reject: (err: Error) => void
}

interface PoolWorker {
  worker: Worker
  ready: boolean
  tasks: Map<number, Task>
}

let pool: PoolWorker[] = []
let nextId = 0
/** Runs encoded on workers since the process started. */
let workerRuns = 0
let workerLeaves = 0
let idleTimer: NodeJS.Timeout | undefined
/** A worker that failed before it was ready (it cannot load): imports stay on the main thread. */
let broken = false

function errorOf (answer: ErrorData): Error {
  const err = isCode(answer.code)
    ? new FramehubError(answer.code, answer.message, answer.details)
    : new Error(answer.message)
  err.name = answer.name
  return err
}

function busy (): boolean {
  return pool.some(w => w.tasks.size > 0)
}

/** Ends the workers once no import has used them for `idleMs`. */
function scheduleIdle (): void {
  if (idleTimer != null) clearTimeout(idleTimer)
  idleTimer = setTimeout(() => {
    idleTimer = undefined
    if (!busy()) void stopImportPool()
  }, importPool.idleMs)
  idleTimer.unref()
}

function remove (w: PoolWorker, err: Error): void {
  pool = pool.filter(p => p !== w)
  for (const task of w.tasks.values()) task.reject(err)
  w.tasks.clear()
}

function spawn (): PoolWorker {
  // The worker the command started ahead of its import (`prestartImportWorker`), if it is still
  // there; one that failed before it was taken is left to end, and a new one tried.
  let pre = takePrestartedWorker()
  if (pre?.failed === true) {
    void pre.worker.terminate()
    pre = undefined
  }
  const worker = pre?.worker ?? spawnImportWorker()
  const w: PoolWorker = { worker, ready: pre?.ready ?? false, tasks: new Map() }
  worker.on('message', (message: EncodeAnswer | LeavesAnswer | { ready: true }) => {
    if ('ready' in message) {
      w.ready = true
      return
    }
    if ('input' in message && message.input !== undefined) runBuffers.give(message.input)
    if ('spare' in message && message.spare !== undefined) encodedBuffers.give(message.spare)
    const task = w.tasks.get(message.id)
    if (task == null) return
    w.tasks.delete(message.id)
    if (w.tasks.size === 0) {
      worker.unref()
      if (!busy()) scheduleIdle()
    }
    if ('error' in message) task.reject(errorOf(message.error))
    else if ('leaves' in message) task.resolve(message.leaves)
    else task.resolve(message.failure == null ? message.frames : { ...message.frames, failure: errorOf(message.failure) })
  })
  worker.on('error', (err) => {
    if (!w.ready) broken = true
    remove(w, new Error(`import worker failed: ${err.message}`))
  })
  worker.on('exit', (code) => { remove(w, new Error(`import worker exited (code ${code})`)) })
  // After the listeners: adding a message listener references the worker's port again.
  worker.unref()
  return w
}

/**
 * Starts the pool's workers if they are not running (they load their modules in the background),
 * for an import known to be big from its start.
 */
export function startImportPool (): void {
  if (broken || importPool.workers <= 0) return
  startPool()
}

/** How long after finding no core free an import looks again. */
const RECHECK_MS = 250

/** A core is free for a worker (see `importPool.maxLoad`). */
function coreFree (): boolean {
  if ((loadavg()[0] ?? 0) < importPool.maxLoad) return true
  const idle = idleCoresSinceStart()
  return idle !== undefined && idle >= importPool.minIdleCores
}

/** When `startPool` last found no core free (ms since the epoch). */
let refusedAt = -Infinity

function startPool (): void {
  if (pool.length === 0 && !coreFree()) {
    refusedAt = Date.now()
    // A worker started ahead of the import ends here, unused.
    void takePrestartedWorker()?.worker.terminate()
    return
  }
  try {
    while (pool.length < importPool.workers) pool.push(spawn())
  } catch {
    // No worker can start here: imports stay on the main thread.
    broken = true
  }
}

/** Terminates the pool's workers (the next big import starts new ones). */
export async function stopImportPool (): Promise<void> {
  const workers = pool
  pool = []
  if (idleTimer != null) clearTimeout(idleTimer)
  idleTimer = undefined
  await Promise.all(workers.map(async w => { await w.worker.terminate() }))
}

/** The encoding of one run of lines: done already (on this thread) or under way on a worker. */
export type EncodedRun = EncodedFrames | Promise<EncodedFrames>

/**
 * Encodes a run on this thread, into a buffer of `encodedBuffers`, and hands its bytes back for
 * the next run to be read into.
 */
function encodeHere (run: string[] | NdjsonRun, first: number, source: string): EncodedFrames {
  const into = encodedBuffers.take(ENCODED_BUFFER_BYTES)
  let frames: EncodedFrames | undefined
  try {
    frames = Array.isArray(run) ? encodeFrameLines(run, first, source, into) : encodeFrameBytes(run.bytes, first, source, into)
    return frames
  } finally {
    if (!Array.isArray(run)) runBuffers.give(run.bytes.buffer)
    if (frames?.bytes.buffer !== into.buffer) encodedBuffers.give(into.buffer)
  }
}

/**
 * Encodes a run (lines, or NDJSON bytes of whole lines, numbered from `first`) with
 * `encodeFrameLines`: on the least busy worker when the import has passed the threshold (or is
 * `knownBig`: its pool was started at once, `startImportPool`) and a worker is ready and not full
 * (`importPool.queued`), else here. A bad line is reported the same
 * way on both (`failure`, with its code and message); the promise rejects only when a worker
 * fails. The bytes of a run sent to a worker are transferred (unusable here afterwards).
 */
export function encodeRun (run: string[] | NdjsonRun, first: number, source: string, knownBig = false): EncodedRun {
  const lines = Array.isArray(run) ? run.length : run.lines
  if (broken || importPool.workers <= 0 || (!knownBig && first - 1 + lines <= importPool.threshold)) return encodeHere(run, first, source)
  // Asking the system for its CPU times costs about half a millisecond: an import on busy cores
  // asks again only now and then.
  if (pool.length > 0 || Date.now() - refusedAt >= RECHECK_MS) startPool()
  let best: PoolWorker | undefined
  for (const w of pool) if (w.ready && (best == null || w.tasks.size < best.tasks.size)) best = w
  // While the workers start, or while they are all busy, this thread encodes: it would only wait for them otherwise.
  if (best == null || best.tasks.size >= importPool.queued) return encodeHere(run, first, source)
  const w = best
  const id = nextId++
  workerRuns++
  const promise = new Promise<EncodedFrames>((resolve, reject) => { w.tasks.set(id, { resolve: resolve as Task['resolve'], reject }) })
  if (w.tasks.size === 1) w.worker.ref()
  const into = encodedBuffers.take(ENCODED_BUFFER_BYTES).buffer
  if (Array.isArray(run)) w.worker.postMessage({ id, lines: run, first, source, into } satisfies EncodeTask, [into])
  else w.worker.postMessage({ id, lines: run.bytes, first, source, into } satisfies EncodeTask, [run.bytes.buffer, into])
  return promise
}

/**
 * Makes the tree's leaves of frame ids `ids` (sorted, starting at a leaf and ending where one
 * ends; their CIDs packed in `cids`, `width` bytes each) on an idle worker, which gets a copy of
 * them. Undefined when no worker is up and idle: the caller makes them itself.
 */
export function packLeavesOnWorker (ids: string[], cids: Uint8Array, width: number): Promise<PackedLeaves> | undefined {
  const w = pool.find(w => w.ready && w.tasks.size === 0)
  if (w === undefined) return undefined
  const id = nextId++
  workerLeaves++
  const promise = new Promise<PackedLeaves>((resolve, reject) => { w.tasks.set(id, { resolve: resolve as Task['resolve'], reject }) })
  w.worker.ref()
  const copy = new Uint8Array(cids.byteLength)
  copy.set(cids)
  w.worker.postMessage({ id, leaves: { ids, cids: copy, width } } satisfies LeavesTask, [copy.buffer])
  return promise
}

/** Runs of lines encoded on workers so far (for tests). */
export function importPoolRuns (): number {
  return workerRuns
}

/** Parts of trees whose leaves workers were asked to make so far (for tests). */
export function importPoolLeaves (): number {
  return workerLeaves
}

/** Workers running (for tests). */
export function importPoolSize (): number {
  return pool.length
}

/** Workers that can take work now. */
export function importPoolReady (): number {
  return pool.filter(w => w.ready).length
}
