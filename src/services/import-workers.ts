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
import { getCompileCacheDir } from 'node:module'
import { availableParallelism, loadavg } from 'node:os'
import { dirname } from 'node:path'
import { Worker } from 'node:worker_threads'
import { ENCODED_BUFFER_BYTES, encodeFrameBytes, encodeFrameLines, encodedBuffers } from '../core/frame-lines.ts'
import type { EncodedFrames } from '../core/frame-lines.ts'
import { runBuffers } from '../core/ndjson-runs.ts'
import type { NdjsonRun } from '../core/ndjson-runs.ts'
import { FramehubError, isCode } from '../core/errors.ts'
import type { PackedLeaves } from '../core/tree/index.ts'
import type { EncodeAnswer, EncodeTask, ErrorData, LeavesAnswer, LeavesTask } from './import-worker.ts'
import { idleCoresSinceStart } from './idle-cores.ts'

/**
 * How imports use worker threads (mutable: tests force the pool on small inputs).
 * - `threshold`: lines an import must pass before the pool starts and its later runs go to the
 *   workers (as soon as they are up; this thread encodes meanwhile). Measured: a worker takes
 *   about as long to start (load its modules, compile the schemas) as this thread takes to encode
 *   20,000 lines, so a smaller import is done before a worker could help. An import given as an
 *   array longer than this starts the pool at once (`startImportPool`);
 * - `thresholdBytes`: an import whose input is known to be bigger than this (`expectedBytes`:
 *   `frame import FILE` gives the file's size) starts the pool at once too;
 * - `workers`: size of the pool (default: the available cores less one, for the main thread,
 *   and at least one); 0 turns the pool off;
 * - `maxLoad`, `minIdleCores`: the pool starts only while a core is free: the 1-minute load
 *   average is below `maxLoad` (default: the cores less a half), or at least `minIdleCores`
 *   (default a half) were idle on average since the process started, when that is between 50 ms
 *   and 5 s ago (`idle-cores.ts`: in a CLI process; the load average lags by a minute and counts
 *   work that has ended, such as the previous command of a script). On a machine whose cores are busy with
 *   other work a worker cannot run beside this thread, and it only adds its start and the copies
 *   of lines and blocks (measured on a 2-core machine at load 12 to 16: about 0.8 s more CPU);
 * - `chunkLines`: lines per task (an import given as lines), `runBytes`: bytes per task (an
 *   import given as NDJSON bytes, cut after a line break);
 * - `queued`: runs a worker holds (one under way, the rest waiting) before this thread encodes
 *   the next run itself: the workers never wait for work, and this thread encodes whenever they
 *   are all busy (on a 2-core machine: one worker, and this thread between its writes);
 * - `idleMs`: the pool is shut down after this long without work;
 * - `treeSplit`: frames past which an import into an empty working tree has an idle worker make
 *   the tree's leaves for part of them, `1 - treeShareHere` of them, while this thread makes the
 *   others and hands them to LevelDB (copying a batch into LevelDB's takes this thread about as
 *   long as making the leaves in it).
 */
export const importPool = {
  threshold: 8192,
  thresholdBytes: 4 * 1024 * 1024,
  workers: Math.max(1, availableParallelism() - 1),
  maxLoad: availableParallelism() - 0.5,
  minIdleCores: 0.5,
  chunkLines: 1024,
  runBytes: 512 * 1024,
  queued: 2,
  idleMs: 10_000,
  treeSplit: 16_384,
  treeShareHere: 0.45
}

interface Task {
  resolve: (answer: EncodedFrames | PackedLeaves) => void
  reject: (err: Error) => void
}

interface PoolWorker {
  worker: Worker
  ready: boolean
  tasks: Map<number, Task>
}

// The worker's entry beside this one, plain JavaScript in the sources and in the built package
// (dist/): it switches the compile cache on before the worker's TypeScript loads.
const WORKER_URL = new URL('./import-worker-start.js', import.meta.url)

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
  // Workers inherit the parent's Node options, except one about the parent's own entry point
  // (`node --input-type=module -e …`), which a worker refuses.
  const argv = process.execArgv
  // The main thread's compile cache (`<dir>/<node version>`), for the worker to load its modules from.
  const cacheDir = getCompileCacheDir()
  const workerData = { compileCache: cacheDir != null ? dirname(cacheDir) : undefined }
  const worker = argv.some(a => a.startsWith('--input-type'))
    ? new Worker(WORKER_URL, { workerData, execArgv: argv.filter(a => !a.startsWith('--input-type')) })
    : new Worker(WORKER_URL, { workerData })
  const w: PoolWorker = { worker, ready: false, tasks: new Map() }
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
