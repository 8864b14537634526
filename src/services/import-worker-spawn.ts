/**
 * How the import pool (`import-workers.ts`) is set up, and how one of its worker threads is
 * started: Node built-ins only, so that a command can start a worker before it loads anything
 * else (`prestartImportWorker`). A worker takes 0.15 to 0.25 s to start (Node's own start of a
 * thread, then the worker's modules): started first thing by `framehub frame import FILE`, it is
 * ready while the command is still loading its own modules.
 */
import { getCompileCacheDir } from 'node:module'
import { availableParallelism, loadavg } from 'node:os'
import { dirname } from 'node:path'
import { Worker } from 'node:worker_threads'

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
 *   long as making the leaves in it);
 * - `prestartMaxLoad`: a worker started ahead of its import (`prestartImportWorker`) starts only
 *   below this 1-minute load average (default: twice the cores). The pool decides whether it
 *   keeps it, as for any worker; one it refuses has cost its start (about 0.2 s of CPU time).
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
  treeShareHere: 0.45,
  prestartMaxLoad: 2 * availableParallelism()
}

/**
 * `FRAMEHUB_IMPORT_WORKERS`, for whoever runs framehub: the import's worker threads, `0` for
 * none, a number for that many, started whatever the load (a shared machine that keeps its other
 * cores to itself, a test that needs a worker on busy cores). Anything but a whole number below
 * 1000 is ignored, as Node ignores a bad `UV_THREADPOOL_SIZE`.
 */
const fromEnv = process.env.FRAMEHUB_IMPORT_WORKERS
if (fromEnv !== undefined && /^\d{1,3}$/.test(fromEnv)) {
  importPool.workers = Number(fromEnv)
  if (importPool.workers > 0) Object.assign(importPool, { maxLoad: Infinity, prestartMaxLoad: Infinity })
}

// The worker's entry beside this one, plain JavaScript in the sources and in the built package
// (dist/): it switches the compile cache on before the worker's TypeScript loads. The CLI's
// bundle spawns its own entry instead (scripts/bundle.ts).
const WORKER_URL = new URL('./import-worker-start.js', import.meta.url)

/**
 * The young generation of a worker's heap, MB (its two semi-spaces and the space for new large
 * objects). V8 sizes it from the heap limit: 192 MB on a machine with memory to spare, semi-spaces
 * of 64 MB that the system maps and zeroes a page at a time as they grow, and that no cache holds.
 * A worker keeps almost nothing of a run once it has sent it back; at 12 MB a 100k-frame CLI
 * import took 4 % less CPU time (3.10 s against 2.97 s, median of 10 alternated runs on this
 * project's 2-core machine) and had 4,700 fewer page faults.
 */
const WORKER_YOUNG_GENERATION_MB = 12

let spawned = 0

/** Import workers started in this process so far (for tests). */
export function importWorkersSpawned (): number {
  return spawned
}

/** Starts a worker thread of the import pool (it loads its modules, then says it is ready). */
export function spawnImportWorker (): Worker {
  spawned++
  // Workers inherit the parent's Node options, except one about the parent's own entry point
  // (`node --input-type=module -e …`), which a worker refuses.
  const argv = process.execArgv
  // The main thread's compile cache (`<dir>/<node version>`), for the worker to load its modules from.
  const cacheDir = getCompileCacheDir()
  const workerData = { compileCache: cacheDir != null ? dirname(cacheDir) : undefined }
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB }
  return argv.some(a => a.startsWith('--input-type'))
    ? new Worker(WORKER_URL, { workerData, resourceLimits, execArgv: argv.filter(a => !a.startsWith('--input-type')) })
    : new Worker(WORKER_URL, { workerData, resourceLimits })
}

/** A worker started ahead of its import, until the pool takes it. */
export interface PrestartedWorker {
  worker: Worker
  /** It said it is ready (it loaded its modules). */
  ready: boolean
  /** It failed or exited before the pool took it. */
  failed: boolean
}

let prestarted: { state: PrestartedWorker, detach: () => void } | undefined

/**
 * Starts one import worker now, for an import of `expectedBytes` that will start the pool
 * (`importPool.thresholdBytes`), unless the load average is past `importPool.prestartMaxLoad`.
 * The pool takes it when the import starts (`takePrestartedWorker`), or ends it when it finds no
 * core free then (`importPool.maxLoad`, `minIdleCores`: this early the CPU time since the start
 * cannot tell yet). It never keeps the process alive: a command that ends without importing (an
 * error, a daemon that does the import) ends as it would have.
 */
export function prestartImportWorker (expectedBytes: number): boolean {
  if (prestarted !== undefined || importPool.workers <= 0 || expectedBytes <= importPool.thresholdBytes) return false
  if ((loadavg()[0] ?? 0) >= importPool.prestartMaxLoad) return false
  let worker: Worker
  try {
    worker = spawnImportWorker()
  } catch {
    return false
  }
  const state: PrestartedWorker = { worker, ready: false, failed: false }
  // Until the pool listens, this notes what the worker says: its first message says it is ready.
  const onMessage = (): void => { state.ready = true }
  const onEnd = (): void => { state.failed = true }
  worker.once('message', onMessage)
  worker.once('error', onEnd)
  worker.once('exit', onEnd)
  worker.unref()
  const detach = (): void => {
    worker.off('message', onMessage)
    worker.off('error', onEnd)
    worker.off('exit', onEnd)
  }
  prestarted = { state, detach }
  return true
}

/** The worker `prestartImportWorker` started, for the pool to take (once); undefined if none. */
export function takePrestartedWorker (): PrestartedWorker | undefined {
  const taken = prestarted
  prestarted = undefined
  if (taken === undefined) return undefined
  // The pool listens from here on (in the same tick: nothing the worker says is missed).
  taken.detach()
  return { ...taken.state }
}
