/**
 * The HTTP gateway under load, with this process as the load generator and every server in its
 * own child process (gateway-server.ts, or the framehub CLI daemon):
 *
 *   ceiling        hello-world Fastify 5 route, requested on the same rotating /ipfs/{cid} paths and
 *                  headers as the gateway (so the load generator does the same work per request);
 *                  `ceilingStaticPath` is the same server on a fixed `/`, for reference;
 *                  `ceilingRawShape` is the same server answering /shaped/{cid} with the headers of a
 *                  raw-block answer and a body of the mean size of 1,000 frame blocks
 *   heliaRaw       a bare Fastify route serving raw blocks through Helia (helia.blockstore.get, offline)
 *   framehub       createGateway(node, { logger: false, rateLimit: false }): stripped
 *   framehubAsRun  `framehub daemon` as users run it: the CLI with its defaults (info-level logs,
 *                  requests logged only when they fail or are slow, to a log file as `2>daemon.log`
 *                  would; rate limit on; libp2p on loopback, in a network of its own), on a copy of
 *                  the same repository
 *
 * Comparison (the goals are judged on it): the four servers are up at once (each on its own copy
 * of the repository) and measured in BENCH_GATEWAY_ROUNDS rounds (4; 2 with BENCH_QUICK=1) of
 * BENCH_GATEWAY_ROUND_SECONDS (5 s; 1 s quick) per server and load generator, the order of the servers
 * rotating every round (ABCD, BCDA, CDAB, DABC), after one BENCH_GATEWAY_WARMUP warm-up each. Each
 * server is measured by two load generators: autocannon (in this process) and wrk (Debian's
 * package, a C load generator that is not the bottleneck; scripts/bench/wrk-paths.lua rotates the
 * paths and prints its percentiles as JSON). The report gives, per generator, the median over the
 * rounds of req/s, p50 and p99 of each server, and their ratios. Goals are judged on wrk when it
 * ran, else on autocannon (`goal.generator`). Without wrk the set-up installs it
 * (`apt-get install -y wrk`, when root and apt-get exist), else the wrk part is skipped and the
 * JSON says why.
 *
 * Then, with BENCH_GATEWAY_SECONDS (10 s) runs after a warm-up: framehub's other endpoints,
 * stripped and as run (their order alternating):
 *   frameByCid   GET /api/v1/frames/{cid}
 *   listByKind   GET /api/v1/frames?kind=K&limit=20 (K rotates over the kinds)
 *   listByTag    GET /api/v1/frames?tag=T&limit=20 (T rotates over the tags)
 * and the soak: BENCH_SOAK_SECONDS (60) of ipfsRaw on the stripped server, sampling its
 * process.memoryUsage() every second.
 *
 * Large repository: the comparison again (ceiling, Helia, stripped framehub; rounds of both
 * generators, at most 2) on a repository of BENCH_GATEWAY_LARGE_FRAMES frames (300,000: several
 * times LevelDB's 64 MiB block cache; 0 skips it). Every server goes on along the shuffled CIDs
 * where its previous run stopped, so no block is asked for twice (`pathsWrapped` says if they did)
 * and every read misses LevelDB's block cache.
 *
 * CIDs are those of every frame of a committed BENCH_FRAMES-frame repository (the one run.ts
 * passes, or one imported here), shuffled with BENCH_SEED. Latency percentiles are computed from
 * every response time (autocannon's own histogram keeps whole milliseconds only; wrk's are µs).
 *
 * BENCH_GATEWAY_PROFILE=1 adds, after the measured runs, one profiled run per framehub endpoint
 * (the V8 CPU sampler of --cpu-prof, started and stopped around the load through node:inspector
 * in the server process) and reports the top self-time functions; BENCH_GATEWAY_PROFILE_DIR keeps
 * the .cpuprofile files (open them in Chrome DevTools).
 *
 *   node scripts/bench/gateway.ts [REPO]      prints one JSON document on stdout
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { AutocannonResult } from 'autocannon'
import { entries } from '../../src/core/tree/index.ts'
import { createNode } from '../../src/node.ts'
import { benchConfig, cleanupAll, generateFrameLines, isMain, log, mb, now, prng, round, runProgram, tempDir } from './common.ts'
import type { BenchConfig } from './common.ts'
import { allMet, judge, ratioOf, reasonLine } from './goals.ts'
import type { Judged } from './goals.ts'
import type { MemorySample, ServerMessage, ServerMode } from './gateway-server.ts'

const RAW_TYPE = 'application/vnd.ipld.raw'
const KINDS = ['fact', 'note', 'observation', 'plan', 'claim']
const TAGS = ['physics', 'math', 'biology', 'history', 'code', 'agents', 'ipfs', 'draft', 'verified', 'todo', 'ml', 'data']
/** LevelDB's block cache in a framehub repository (CACHE_BYTES of src/storage/level-db.ts). */
const LEVELDB_BLOCK_CACHE_BYTES = 64 * 1024 * 1024
const WRK_SCRIPT = fileURLToPath(new URL('./wrk-paths.lua', import.meta.url))
const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

export interface GatewayConfig {
  connections: number
  seconds: number
  warmupSeconds: number
  soakSeconds: number
  profile: boolean
  /** Rounds of the alternated comparison (BENCH_GATEWAY_ROUNDS). */
  rounds: number
  /** Seconds per server, load generator and round (BENCH_GATEWAY_ROUND_SECONDS). */
  roundSeconds: number
  /** wrk's threads (BENCH_WRK_THREADS, default 1: a C thread outruns one Node server). */
  wrkThreads: number
  /** Frames of the large repository (BENCH_GATEWAY_LARGE_FRAMES; 0 skips that part). */
  largeFrames: number
}

function numberEnv (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw == null || raw === '') return fallback
  const n = Number(raw.replaceAll('_', ''))
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`)
  return n
}

export function gatewayConfig (quick: boolean): GatewayConfig {
  return {
    connections: Math.max(1, Math.round(numberEnv('BENCH_GATEWAY_CONNECTIONS', 50))),
    seconds: Math.max(1, numberEnv('BENCH_GATEWAY_SECONDS', quick ? 2 : 10)),
    warmupSeconds: numberEnv('BENCH_GATEWAY_WARMUP', quick ? 1 : 2),
    soakSeconds: Math.max(2, numberEnv('BENCH_SOAK_SECONDS', quick ? 6 : 60)),
    profile: process.env.BENCH_GATEWAY_PROFILE === '1',
    rounds: Math.max(2, Math.round(numberEnv('BENCH_GATEWAY_ROUNDS', quick ? 2 : 4))),
    roundSeconds: Math.max(1, Math.round(numberEnv('BENCH_GATEWAY_ROUND_SECONDS', quick ? 1 : 5))),
    wrkThreads: Math.max(1, Math.round(numberEnv('BENCH_WRK_THREADS', 1))),
    largeFrames: Math.round(numberEnv('BENCH_GATEWAY_LARGE_FRAMES', quick ? 5_000 : 300_000))
  }
}

/** One measurement (autocannon or wrk). */
export interface LoadResult {
  /** autocannon: mean of the per-second request counts; wrk: responses / duration. */
  requestsPerSecond: number
  /** Every response time, ms (2xx and not). */
  latencyMs: { mean: number, p50: number, p90: number, p99: number, max: number }
  requests: number
  /** Connection errors (timeouts included); answers that were not 2xx are counted in non2xx. */
  errors: number
  timeouts: number
  non2xx: number
  statusCodes: Record<string, number>
  MBps: number
  seconds: number
  /**
   * CPU time (user + system, all threads) the server process spent per response, µs: less
   * sensitive than req/s to other processes on the machine.
   */
  serverCpuUsPerRequest: number
}

/** The median over the rounds of one server's measurements (counts are summed). */
export interface MedianLoad extends LoadResult {
  rounds: Array<{ requestsPerSecond: number, p50: number, p99: number }>
}

export interface ComparedLoad extends LoadResult {
  /** requestsPerSecond over the ceiling's. */
  ratioToCeiling: number
  /** serverCpuUsPerRequest over the ceiling's. */
  cpuPerRequestOverCeiling: number
}

/** a over b: req/s, p50 and p99 (null, with the reason, when b was not measured or is 0). */
export interface LoadRatio { requestsPerSecond: number | null, p50: number | null, p99: number | null, reason?: string }

/** One load generator's view of the alternated comparison. */
export interface GeneratorComparison {
  generator: 'autocannon' | 'wrk'
  servers: Record<string, MedianLoad>
  ratios: Record<string, LoadRatio>
}

export interface MemoryStats {
  samples: number
  everyMs: number
  rssMB: { first: number, last: number, max: number }
  heapUsedMB: { first: number, last: number, max: number, min: number }
  /** Least-squares slope over the second half of the run, MB per minute. */
  heapUsedSlopeSecondHalfMBPerMin: number
  rssSlopeSecondHalfMBPerMin: number
  /** Lowest heapUsed of the first and of the last quarter (the floor GC comes back to). */
  heapFloorMB: { firstQuarter: number, lastQuarter: number }
  /** heapUsed right after a full garbage collection, before and after the run: what it retained. */
  heapAfterFullGcMB: { before: number, after: number, growth: number }
}

export interface ProfileHotspot {
  function: string
  location: string
  selfMs: number
  selfPercent: number
}

export interface ProfileReport {
  endpoint: string
  requestsPerSecond: number
  sampledMs: number
  /** Self time grouped by where the code lives (framehub src/, a package, node internals, GC, idle). */
  byArea: Array<{ area: string, selfPercent: number }>
  topSelf: ProfileHotspot[]
  /** framehub's own functions (src/), by inclusive time. */
  framehubInclusive: Array<{ function: string, location: string, totalPercent: number }>
  file?: string
}

type Endpoints = {
  ipfsRaw: ComparedLoad
  frameByCid: ComparedLoad
  listByKind: ComparedLoad
  listByTag: ComparedLoad
}

/** The alternated comparison of the servers, by both load generators. */
export interface Comparison {
  servers: Record<string, string>
  rounds: number
  roundSeconds: number
  /** The order the servers were measured in, round by round. */
  order: string[][]
  autocannon: GeneratorComparison
  /** wrk's view, or why there is none. */
  wrk: GeneratorComparison | { skipped: string }
}

export interface GatewayReport {
  frames: number
  cids: number
  /** Time to bring the frame index up to date before the runs (null: this node has no index service). */
  indexCatchUpMs: number | null
  config: GatewayConfig
  /** The medians of autocannon in the alternated comparison (as are heliaRaw and framehub.ipfsRaw). */
  ceiling: LoadResult
  ceilingStaticPath: ComparedLoad
  ceilingRawShape: ComparedLoad
  heliaRaw: ComparedLoad
  framehub: Endpoints
  /** The daemon as users run it (logging, rate limit, libp2p on loopback): the same endpoints. */
  framehubAsRun: Endpoints & { logBytesPerRequest: number | null }
  comparison: Comparison
  largeRepo: LargeRepoReport | { skipped: string }
  soak: { endpoint: string, load: ComparedLoad, memory: MemoryStats }
  goal: {
    /** The load generator the goals below were judged on: wrk when it ran, else autocannon. */
    generator: 'autocannon' | 'wrk'
    rawRequestsPerSecond: number
    rawRatioToCeiling: number
    rawP99Ms: number
    /**
     * Memory counted flat when the heap retained after a full GC grew by less than this over the
     * soak, MB. (The slope of heapUsed samples is reported, not judged: GC's sawtooth swings it by
     * tens of MB/min either way over 30 samples.)
     */
    retainedHeapGrowthMB: number
    rawRequestsPerSecondMet: boolean
    rawRatioMet: boolean
    rawP99Met: boolean
    memoryFlatMet: boolean
    met: boolean
    /** Why each goal above that is not met is not (missing measurement, dirty run, value). */
    reasons: Record<string, string>
    /**
     * The same goals as ratios to the stock components measured in this run, scaled by the
     * issue's reference machine (ceiling 56,000 req/s with p99 4 ms; Fastify + Helia 20,000 req/s
     * with p99 11 ms; goal 28,000 req/s with p99 under 10 ms). On a machine whose load generator
     * cannot produce 28,000 req/s at all, these are the goals that can be judged.
     */
    sameRun: SameRunGoals
    /** sameRun of the daemon as users run it. */
    sameRunAsRun: SameRunGoals
    /** sameRun on the large repository (not met when that part was skipped). */
    sameRunLargeRepo: SameRunGoals | { met: false, reason: string }
    /** sameRun by each load generator (wrk's: not met when it did not run). */
    sameRunByGenerator: { autocannon: SameRunGoals, wrk: SameRunGoals | { met: false, reason: string } }
  }
  profile?: ProfileReport[]
  /** Load generator and servers share the machine's CPUs with everything else running on it. */
  machine: { cpus: number, loadAverageBefore: number[], loadAverageAfter: number[] }
  seconds: number
}

export interface LargeRepoReport {
  frames: number
  cids: number
  meanBlockBytes: number
  /** Frame blocks alone (mean size × count), MB, beside LevelDB's block cache. */
  frameBlocksMB: number
  leveldbBlockCacheMB: number
  largerThanCache: boolean
  /** The store directory on disk (compressed), MB. */
  storeMB: number
  importSeconds: number
  /** Most requests any server got; more than `cids` means paths wrapped and blocks were asked for again. */
  maxRequestsPerServer: number
  pathsWrapped: boolean
  comparison: Comparison
}

/** One ratio goal: the value measured in this run and the bound it must meet. */
export interface RatioGoal { value: number | null, atLeast?: number, below?: number, met: boolean, reason?: string }

export interface SameRunGoals {
  /** framehub raw req/s over the ceiling's: at least 28,000 / 56,000. */
  rawRpsOverCeiling: RatioGoal
  /** framehub raw req/s over Fastify + Helia's: at least 28,000 / 20,000. */
  rawRpsOverHelia: RatioGoal
  /** framehub raw p99 over the ceiling's p99: below 10 / 4. */
  rawP99OverCeiling: RatioGoal
  /** framehub raw p99 over Fastify + Helia's p99: below 10 / 11. */
  rawP99OverHelia: RatioGoal
  met: boolean
  reason?: string
}

/** The issue's reference machine: what its goals were set against. */
export const REFERENCE = { ceilingRps: 56_000, ceilingP99Ms: 4, heliaRps: 20_000, heliaP99Ms: 11, rawRps: 28_000, rawP99Ms: 10 } as const

/** Why a run's answers do not count: connection errors or answers that were not 2xx (null: clean). */
export function dirtyReason (name: string, r: LoadResult | null | undefined): string | null {
  if (r == null) return `${name} not measured`
  if (r.requests === 0) return `${name} got no answers`
  if (r.errors > 0 || r.non2xx > 0) return `${name}: ${r.errors} connection errors, ${r.non2xx} answers not 2xx`
  return null
}

/**
 * The goals as ratios to the ceiling and to Helia of the same run. A ratio counts only when both
 * of its runs are clean (no connection error, every answer 2xx) and its anchor measured something.
 */
export function sameRunGoals (raw: LoadResult, ceiling: LoadResult | null, helia: LoadResult | null): SameRunGoals {
  const goal = (bound: { atLeast: number } | { below: number }, value: number | { missing: string }, anchor: string, anchorRun: LoadResult | null): RatioGoal => {
    const dirty = dirtyReason('framehub', raw) ?? dirtyReason(anchor, anchorRun)
    const bounded = 'atLeast' in bound ? { atLeast: round(bound.atLeast, 3) } : { below: round(bound.below, 3) }
    const j = judge(typeof value === 'number' ? round(value, 3) : value, bounded, { dirty })
    return { value: j.value, ...bounded, met: j.met, ...(j.reason != null ? { reason: j.reason } : {}) }
  }
  const goals = {
    rawRpsOverCeiling: goal({ atLeast: REFERENCE.rawRps / REFERENCE.ceilingRps }, ratioOf(raw.requestsPerSecond, ceiling?.requestsPerSecond, { anchor: 'ceiling' }), 'ceiling', ceiling),
    rawRpsOverHelia: goal({ atLeast: REFERENCE.rawRps / REFERENCE.heliaRps }, ratioOf(raw.requestsPerSecond, helia?.requestsPerSecond, { anchor: 'Helia' }), 'Helia', helia),
    rawP99OverCeiling: goal({ below: REFERENCE.rawP99Ms / REFERENCE.ceilingP99Ms }, ratioOf(raw.latencyMs.p99, ceiling?.latencyMs.p99, { anchor: 'ceiling p99' }), 'ceiling', ceiling),
    rawP99OverHelia: goal({ below: REFERENCE.rawP99Ms / REFERENCE.heliaP99Ms }, ratioOf(raw.latencyMs.p99, helia?.latencyMs.p99, { anchor: 'Helia p99' }), 'Helia', helia)
  }
  const met = allMet(Object.values(goals))
  return { ...goals, met, ...(met ? {} : { reason: reasonLine(goals) }) }
}

// ---------------------------------------------------------------------------------------------
// The servers

/** What the load functions need of a server. */
export interface LoadServer {
  readonly name: string
  readonly port: number
  /** CPU time of the server process so far (user + system, all threads), µs; NaN if unknown. */
  cpuUs (): Promise<number>
  stop (): Promise<void>
  /** Requests sent so far from each path list: the next run starts there (modulo its length). */
  readonly cursors: Map<readonly string[], number>
}

interface Server extends LoadServer {
  readonly mode: ServerMode
  readonly child: ChildProcess
  command (line: string): void
  next<T extends ServerMessage['type']> (type: T, timeoutMs?: number): Promise<Extract<ServerMessage, { type: T }>>
}

const running = new Set<ChildProcess>()

async function startServer (mode: ServerMode, name: string, repo?: string): Promise<Server> {
  const script = fileURLToPath(new URL('./gateway-server.ts', import.meta.url))
  const child = spawn(process.execPath, [script, mode, ...(repo != null ? [repo] : [])], { stdio: ['pipe', 'pipe', 'inherit'] })
  running.add(child)
  const queue: ServerMessage[] = []
  const waiters: Array<() => void> = []
  let exited = false
  child.once('exit', () => { exited = true; running.delete(child); for (const w of waiters.splice(0)) w() })
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      queue.push(JSON.parse(line) as ServerMessage)
    } catch {
      log(`gateway: ${name} server said: ${line}`)
      return
    }
    for (const w of waiters.splice(0)) w()
  })
  const next = async <T extends ServerMessage['type']> (type: T, timeoutMs = 120_000): Promise<Extract<ServerMessage, { type: T }>> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = queue.findIndex(m => m.type === type || m.type === 'error')
      if (i >= 0) {
        const [m] = queue.splice(i, 1) as [ServerMessage]
        if (m.type === 'error') throw new Error(`${name} server: ${m.message}`)
        return m as Extract<ServerMessage, { type: T }>
      }
      if (exited) throw new Error(`${name} server exited (code ${child.exitCode}) before "${type}"`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${name} server: no "${type}" within ${timeoutMs} ms`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }
  const command = (line: string): void => { child.stdin?.write(line + '\n') }
  try {
    const { port } = await next('listening')
    return {
      name,
      mode,
      port,
      child,
      command,
      next,
      cursors: new Map(),
      async cpuUs () {
        command('cpu')
        const { user, system } = await next('cpu')
        return user + system
      },
      async stop () {
        if (exited) return
        command('exit')
        child.stdin?.end()
        try {
          await next('closed', 30_000)
          if (!exited) await new Promise(resolve => child.once('exit', resolve))
        } catch {
          child.kill('SIGKILL')
        }
      }
    }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

let clockTicks: number | undefined
/** CPU time of a process from /proc (Linux), µs; NaN where there is no /proc. */
function procCpuUs (pid: number): number {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after "(comm)": state is field 3, utime 14 and stime 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / clockTicks
  } catch {
    return Number.NaN
  }
}

/**
 * `framehub daemon` as users start it: the CLI, its defaults (info-level logs without the per-request access log, rate limit, libp2p
 * listening on 127.0.0.1), stderr to a log file; only the API port (0: the OS picks) and a network
 * name of its own (no other node on this machine joins it) are given.
 */
async function startDaemon (name: string, repo: string, logFile: string): Promise<LoadServer & { logFile: string }> {
  const fd = openSync(logFile, 'w')
  const child = spawn(process.execPath, [CLI_MAIN, '--repo', repo, '--json', 'daemon', '--api', '127.0.0.1:0', '--network', `bench-gateway-${process.pid}`], { stdio: ['ignore', 'pipe', fd] })
  closeSync(fd)
  running.add(child)
  let exited = false
  const exit = new Promise<void>(resolve => { child.once('exit', () => { exited = true; running.delete(child); resolve() }) })
  const tail = async (): Promise<string> => (await readFile(logFile, 'utf8').catch(() => '')).slice(-800)
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${name}: no address within 120 s`)) }, 120_000)
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
      lines.once('line', (l) => { clearTimeout(timer); resolve(l) })
      void exit.then(() => { clearTimeout(timer); reject(new Error(`${name}: the daemon exited (code ${child.exitCode})`)) })
    })
    const { url } = JSON.parse(line) as { url: string }
    const port = Number(new URL(url).port)
    return {
      name,
      port,
      logFile,
      cursors: new Map(),
      async cpuUs () { return child.pid != null ? procCpuUs(child.pid) : Number.NaN },
      async stop () {
        if (exited) return
        child.kill('SIGINT')
        const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
        await exit
        clearTimeout(timer)
      }
    }
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`${(err as Error).message}; its log ends: ${await tail()}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Load

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number
}

/** A load target: the paths requests rotate over (each run goes on where the last one stopped), and headers. */
export interface Target {
  paths: readonly string[]
  headers?: Record<string, string>
}

const cpuPerRequest = (cpuUs: number, responses: number): number => Number.isFinite(cpuUs) ? round(cpuUs / Math.max(1, responses), 1) : Number.NaN

async function load (server: LoadServer, target: Target, seconds: number, connections: number, title: string): Promise<LoadResult> {
  const cpu0 = await server.cpuUs()
  const { paths } = target
  let issued = server.cursors.get(paths) ?? 0
  let times = new Float64Array(1 << 20)
  let n = 0
  const instance = autocannon({
    url: `http://127.0.0.1:${server.port}`,
    connections,
    duration: seconds,
    timeout: 10,
    title,
    headers: target.headers,
    requests: [{
      method: 'GET',
      setupRequest: (request) => {
        request.path = paths[issued % paths.length] as string
        issued++
        return request
      }
    }]
  })
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    if (n === times.length) {
      const bigger = new Float64Array(times.length * 2)
      bigger.set(times)
      times = bigger
    }
    times[n++] = responseTime
  })
  const r: AutocannonResult = await instance
  server.cursors.set(paths, issued)
  const cpuUs = await server.cpuUs() - cpu0
  const sorted = times.subarray(0, n).sort()
  let sum = 0
  for (let i = 0; i < n; i++) sum += sorted[i] as number
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(r.statusCodeStats)) statusCodes[code] = Number(count)
  return {
    requestsPerSecond: Math.round(r.requests.average),
    latencyMs: {
      mean: round(n > 0 ? sum / n : 0, 2),
      p50: round(percentile(sorted, 0.5), 2),
      p90: round(percentile(sorted, 0.9), 2),
      p99: round(percentile(sorted, 0.99), 2),
      max: round(n > 0 ? sorted[n - 1] as number : 0, 2)
    },
    requests: n,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    statusCodes,
    MBps: round(r.throughput.average / 1e6, 2),
    seconds: r.duration,
    serverCpuUsPerRequest: cpuPerRequest(cpuUs, n)
  }
}

/** wrk, when it can be had; otherwise why not. */
export type WrkSetup = { ok: true, version: string } | { ok: false, reason: string }

function wrkVersion (): string | null {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' })
  if (r.error != null) return null
  return (r.stdout + r.stderr).split('\n')[0]?.trim() ?? 'wrk'
}

/**
 * Finds wrk, installing Debian's package when it is missing and this process may (root, apt-get
 * present): `apt-get install -y wrk` (after `apt-get update` if the first try fails).
 */
export function setUpWrk (): WrkSetup {
  const found = wrkVersion()
  if (found != null) return { ok: true, version: found }
  const root = process.getuid?.() === 0
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error == null
  if (!root || !apt) return { ok: false, reason: `wrk is not installed and cannot be installed here (${!apt ? 'no apt-get' : 'not root'}): install Debian's wrk package to get its numbers` }
  log('gateway: wrk missing: apt-get install -y wrk')
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 2, 2] })
    if (!install()) return { ok: false, reason: 'wrk is not installed and `apt-get install -y wrk` failed' }
  }
  const version = wrkVersion()
  return version != null ? { ok: true, version } : { ok: false, reason: 'wrk installed but does not run' }
}

/** The paths of a target as a file for wrk-paths.lua (one per list, written once). */
const pathFiles = new Map<readonly string[], string>()
async function pathsFile (paths: readonly string[]): Promise<string> {
  let file = pathFiles.get(paths)
  if (file == null) {
    file = join(await tempDir('gateway-paths'), 'paths.txt')
    await writeFile(file, paths.join('\n') + '\n')
    pathFiles.set(paths, file)
  }
  return file
}

interface WrkJson {
  requests: number
  durationUs: number
  bytes: number
  errors: { connect: number, read: number, write: number, status: number, timeout: number }
  latencyUs: { mean: number, p50: number, p90: number, p99: number, max: number }
}

/** Parses the line wrk-paths.lua's done() prints. */
export function parseWrkOutput (stdout: string): WrkJson {
  const line = stdout.split('\n').find(l => l.startsWith('WRK_JSON '))
  if (line == null) throw new Error(`wrk printed no WRK_JSON line: ${stdout.slice(-400)}`)
  return JSON.parse(line.slice('WRK_JSON '.length)) as WrkJson
}

export async function wrkLoad (server: LoadServer, target: Target, seconds: number, connections: number, threads: number): Promise<LoadResult> {
  const file = await pathsFile(target.paths)
  const issued = server.cursors.get(target.paths) ?? 0
  const start = issued % target.paths.length
  const headers = Object.entries(target.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`])
  const args = ['-t', String(threads), '-c', String(Math.max(threads, connections)), '-d', `${seconds}s`, '--timeout', '10s', ...headers,
    '-s', WRK_SCRIPT, `http://127.0.0.1:${server.port}`, '--', file, String(start), String(threads)]
  const cpu0 = await server.cpuUs()
  let child: ReturnType<typeof spawn> | undefined
  const { code, out, err } = await runProgram('wrk', args, {}, (c) => { child = c; running.add(c) })
    .finally(() => { if (child != null) running.delete(child) })
  const cpuUs = await server.cpuUs() - cpu0
  if (code !== 0) throw new Error(`wrk exited with code ${code}: ${(err + out).slice(-400)}`)
  const w = parseWrkOutput(out)
  server.cursors.set(target.paths, issued + w.requests)
  const ms = (us: number): number => round(us / 1000, 2)
  const wallSeconds = w.durationUs / 1e6
  return {
    requestsPerSecond: Math.round(w.requests / Math.max(1e-9, wallSeconds)),
    latencyMs: { mean: ms(w.latencyUs.mean), p50: ms(w.latencyUs.p50), p90: ms(w.latencyUs.p90), p99: ms(w.latencyUs.p99), max: ms(w.latencyUs.max) },
    requests: w.requests,
    errors: w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout,
    timeouts: w.errors.timeout,
    non2xx: w.errors.status,
    statusCodes: {},
    MBps: round(w.bytes / Math.max(1e-9, wallSeconds) / 1e6, 2),
    seconds: round(wallSeconds, 2),
    serverCpuUsPerRequest: cpuPerRequest(cpuUs, w.requests)
  }
}

const describeLoad = (r: LoadResult): string => {
  const bad = r.errors + r.non2xx
  return `${r.requestsPerSecond} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, server CPU ${r.serverCpuUsPerRequest} µs/request${bad > 0 ? `, ${r.errors} errors, ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodes)}` : ''}`
}

/** A warm-up (not reported), then the measurement. */
async function measure (server: LoadServer, target: Target, gw: GatewayConfig, title: string, seconds = gw.seconds): Promise<LoadResult> {
  if (gw.warmupSeconds > 0) await load(server, target, gw.warmupSeconds, gw.connections, `${title} warm-up`)
  const result = await load(server, target, seconds, gw.connections, title)
  log(`gateway: ${title}: ${describeLoad(result)}`)
  return result
}

const compared = (result: LoadResult, ceiling: LoadResult): ComparedLoad => ({
  ...result,
  ratioToCeiling: round(result.requestsPerSecond / Math.max(1, ceiling.requestsPerSecond), 3),
  cpuPerRequestOverCeiling: round(result.serverCpuUsPerRequest / Math.max(0.1, ceiling.serverCpuUsPerRequest), 2)
})

function median (values: number[]): number {
  const s = values.filter(v => Number.isFinite(v)).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** The median of each figure over the rounds; counts (requests, errors, answers) are summed. */
export function medianLoad (runs: LoadResult[]): MedianLoad {
  if (runs.length === 0) throw new Error('no runs')
  const m = (f: (r: LoadResult) => number, digits = 2): number => round(median(runs.map(f)), digits)
  const sum = (f: (r: LoadResult) => number): number => runs.reduce((s, r) => s + f(r), 0)
  const statusCodes: Record<string, number> = {}
  for (const r of runs) for (const [code, count] of Object.entries(r.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count
  return {
    requestsPerSecond: m(r => r.requestsPerSecond, 0),
    latencyMs: { mean: m(r => r.latencyMs.mean), p50: m(r => r.latencyMs.p50), p90: m(r => r.latencyMs.p90), p99: m(r => r.latencyMs.p99), max: m(r => r.latencyMs.max) },
    requests: sum(r => r.requests),
    errors: sum(r => r.errors),
    timeouts: sum(r => r.timeouts),
    non2xx: sum(r => r.non2xx),
    statusCodes,
    MBps: m(r => r.MBps),
    seconds: round(sum(r => r.seconds), 2),
    serverCpuUsPerRequest: m(r => r.serverCpuUsPerRequest, 1),
    rounds: runs.map(r => ({ requestsPerSecond: r.requestsPerSecond, p50: r.latencyMs.p50, p99: r.latencyMs.p99 }))
  }
}

/** a over b, for req/s, p50 and p99. */
export function loadRatio (a: LoadResult | undefined, b: LoadResult | undefined, anchor: string): LoadRatio {
  const one = (x: number | undefined, y: number | undefined): number | string => {
    const r = ratioOf(x, y, { anchor })
    return typeof r === 'number' ? round(r, 3) : r.missing
  }
  const rps = one(a?.requestsPerSecond, b?.requestsPerSecond)
  const p50 = one(a?.latencyMs.p50, b?.latencyMs.p50)
  const p99 = one(a?.latencyMs.p99, b?.latencyMs.p99)
  const reasons = [rps, p50, p99].filter((v): v is string => typeof v === 'string')
  const num = (v: number | string): number | null => typeof v === 'number' ? v : null
  return { requestsPerSecond: num(rps), p50: num(p50), p99: num(p99), ...(reasons.length > 0 ? { reason: [...new Set(reasons)].join('; ') } : {}) }
}

/** The order of the servers in round `r`: rotated by one each round (ABCD, BCDA, CDAB, ...). */
export function roundOrder<T> (servers: readonly T[], r: number): T[] {
  const k = r % Math.max(1, servers.length)
  return [...servers.slice(k), ...servers.slice(0, k)]
}

/**
 * The alternated comparison: a warm-up per server, then `rounds` rounds in which every server is
 * measured by autocannon and (if it runs) by wrk, the servers' order rotating every round.
 */
async function compareServers (servers: LoadServer[], target: Target, gw: GatewayConfig, wrk: WrkSetup, rounds: number, label: string,
  descriptions: Record<string, string>, ratioPairs: Array<[string, string]>): Promise<Comparison> {
  for (const s of servers) if (gw.warmupSeconds > 0) await load(s, target, gw.warmupSeconds, gw.connections, `${s.name} warm-up`)
  const ac = new Map<string, LoadResult[]>(servers.map(s => [s.name, []]))
  const wr = new Map<string, LoadResult[]>(servers.map(s => [s.name, []]))
  const order: string[][] = []
  for (let r = 0; r < rounds; r++) {
    const these = roundOrder(servers, r)
    order.push(these.map(s => s.name))
    for (const s of these) {
      const a = await load(s, target, gw.roundSeconds, gw.connections, `${label} ${s.name} round ${r + 1}`)
      ac.get(s.name)?.push(a)
      log(`gateway: ${label} round ${r + 1}/${rounds} ${s.name} autocannon: ${describeLoad(a)}`)
      if (wrk.ok) {
        const w = await wrkLoad(s, target, gw.roundSeconds, gw.connections, gw.wrkThreads)
        wr.get(s.name)?.push(w)
        log(`gateway: ${label} round ${r + 1}/${rounds} ${s.name} wrk: ${describeLoad(w)}`)
      }
    }
  }
  const view = (generator: 'autocannon' | 'wrk', runs: Map<string, LoadResult[]>): GeneratorComparison => {
    const medians: Record<string, MedianLoad> = {}
    for (const [name, list] of runs) medians[name] = medianLoad(list)
    const ratios: Record<string, LoadRatio> = {}
    for (const [a, b] of ratioPairs) ratios[`${a}Over${b[0]?.toUpperCase() ?? ''}${b.slice(1)}`] = loadRatio(medians[a], medians[b], b)
    return { generator, servers: medians, ratios }
  }
  return {
    servers: descriptions,
    rounds,
    roundSeconds: gw.roundSeconds,
    order,
    autocannon: view('autocannon', ac),
    wrk: wrk.ok ? view('wrk', wr) : { skipped: wrk.reason }
  }
}

function shuffle<T> (items: T[], seed: number): T[] {
  const rand = prng(seed)
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const t = items[i] as T
    items[i] = items[j] as T
    items[j] = t
  }
  return items
}

// ---------------------------------------------------------------------------------------------
// Memory and profiles

function slopePerMinute (points: Array<{ t: number, v: number }>): number {
  if (points.length < 2) return 0
  const mx = points.reduce((s, p) => s + p.t, 0) / points.length
  const my = points.reduce((s, p) => s + p.v, 0) / points.length
  let num = 0
  let den = 0
  for (const p of points) { num += (p.t - mx) * (p.v - my); den += (p.t - mx) ** 2 }
  return den === 0 ? 0 : num / den * 60_000
}

export function memoryStats (samples: MemorySample[], gcBefore: number, gcAfter: number): MemoryStats {
  const first = samples[0]
  const last = samples[samples.length - 1]
  if (first == null || last == null) throw new Error('no memory samples')
  const half = samples.filter(s => s.t >= last.t / 2)
  const quarter = Math.max(1, Math.floor(samples.length / 4))
  const minHeap = (list: MemorySample[]): number => Math.min(...list.map(s => s.heapUsed))
  return {
    samples: samples.length,
    everyMs: 1000,
    rssMB: { first: mb(first.rss), last: mb(last.rss), max: mb(Math.max(...samples.map(s => s.rss))) },
    heapUsedMB: { first: mb(first.heapUsed), last: mb(last.heapUsed), max: mb(Math.max(...samples.map(s => s.heapUsed))), min: mb(minHeap(samples)) },
    heapUsedSlopeSecondHalfMBPerMin: round(slopePerMinute(half.map(s => ({ t: s.t, v: s.heapUsed / 1e6 }))), 2),
    rssSlopeSecondHalfMBPerMin: round(slopePerMinute(half.map(s => ({ t: s.t, v: s.rss / 1e6 }))), 2),
    heapFloorMB: { firstQuarter: mb(minHeap(samples.slice(0, quarter))), lastQuarter: mb(minHeap(samples.slice(-quarter))) },
    heapAfterFullGcMB: { before: mb(gcBefore), after: mb(gcAfter), growth: mb(gcAfter - gcBefore) }
  }
}

interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }>
  startTime: number
  endTime: number
  samples?: number[]
}

const shortUrl = (url: string): string => {
  const cut = url.lastIndexOf('/node_modules/')
  if (cut >= 0) return url.slice(cut + '/node_modules/'.length)
  const src = url.search(/\/(src|scripts)\//)
  if (src >= 0) return url.slice(src + 1)
  return url.replace(/^file:\/\//, '')
}

function areaOf (name: string, url: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  const cut = url.lastIndexOf('/node_modules/')
  if (cut >= 0) {
    const rest = url.slice(cut + '/node_modules/'.length).split('/')
    return (rest[0] ?? '').startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : rest[0] ?? url
  }
  if (url.startsWith('node:')) return 'node internals'
  const src = /\/(src\/[^/]+(?:\/[^/.]+)?)/.exec(url)
  if (src != null) return `framehub ${src[1]}`
  return url
}

export function summarizeProfile (profile: CpuProfile, top = 25): Pick<ProfileReport, 'sampledMs' | 'byArea' | 'topSelf' | 'framehubInclusive'> {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const totalHits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0)
  const sampledMs = (profile.endTime - profile.startTime) / 1000
  const msPerHit = totalHits > 0 ? sampledMs / totalHits : 0
  const self = new Map<string, { function: string, location: string, hits: number }>()
  const areas = new Map<string, number>()
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0
    if (hits === 0) continue
    const { functionName, url, lineNumber } = n.callFrame
    let fn = functionName === '' ? '(anonymous)' : functionName
    let location = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`
    let area = areaOf(fn, url)
    // A nameless frame without a script is native code (a binding such as LevelDB's): name it
    // after the JavaScript function that called it.
    const caller = functionName === '' && url === '' ? byId.get(parent.get(n.id) ?? -1)?.callFrame : undefined
    if (caller != null && caller.url !== '') {
      fn = `(native code called by ${caller.functionName === '' ? '(anonymous)' : caller.functionName})`
      location = `${shortUrl(caller.url)}:${caller.lineNumber + 1}`
      area = areaOf(caller.functionName, caller.url)
    }
    const key = `${fn} ${location}`
    const entry = self.get(key) ?? { function: fn, location, hits: 0 }
    entry.hits += hits
    self.set(key, entry)
    areas.set(area, (areas.get(area) ?? 0) + hits)
  }
  // Inclusive time of framehub's functions: every sample counts once per function on its stack.
  const inclusive = new Map<string, { function: string, location: string, hits: number }>()
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0
    if (hits === 0) continue
    const seen = new Set<string>()
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)
      if (f == null) break
      const { functionName, url, lineNumber } = f.callFrame
      if (!/\/src\//.test(url) || url.includes('/node_modules/')) continue
      const location = `${shortUrl(url)}:${lineNumber + 1}`
      const key = `${functionName} ${location}`
      if (seen.has(key)) continue
      seen.add(key)
      const entry = inclusive.get(key) ?? { function: functionName === '' ? '(anonymous)' : functionName, location, hits: 0 }
      entry.hits += hits
      inclusive.set(key, entry)
    }
  }
  const pct = (hits: number): number => round(totalHits > 0 ? hits / totalHits * 100 : 0, 1)
  return {
    sampledMs: round(sampledMs),
    byArea: [...areas].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([area, hits]) => ({ area, selfPercent: pct(hits) })),
    topSelf: [...self.values()].sort((a, b) => b.hits - a.hits).slice(0, top)
      .map(e => ({ function: e.function, location: e.location, selfMs: round(e.hits * msPerHit), selfPercent: pct(e.hits) })),
    framehubInclusive: [...inclusive.values()].sort((a, b) => b.hits - a.hits).slice(0, 15)
      .map(e => ({ function: e.function, location: e.location, totalPercent: pct(e.hits) }))
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

/** A committed repository of `frames` frames (frames.import, then commits.commit). */
async function makeRepo (cfg: BenchConfig, frames = cfg.frames, name = 'gateway'): Promise<string> {
  const repo = join(await tempDir(name), 'repo')
  const node = await createNode({ repo, create: true })
  try {
    log(`gateway: importing ${frames} frames`)
    const t0 = now()
    const lines = generateFrameLines(frames, cfg.frameBytes, cfg.seed)
    await node.frames.import(lines)
    await node.commits.commit({ message: `gateway bench: ${frames} frames` })
    log(`gateway: repository of ${frames} frames ready in ${round((now() - t0) / 1000, 1)} s`)
  } finally {
    await node.close()
  }
  return repo
}

/** A copy of a closed repository, for a server of its own (LevelDB admits one process). */
async function copyRepo (repo: string, name: string): Promise<string> {
  const copy = join(await tempDir(name), 'repo')
  await cp(repo, copy, { recursive: true })
  return copy
}

async function dirBytes (dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size
  }
  return total
}

/** The part of the frame index service (when the node has one) that brings it up to date. */
interface IndexCatchUp {
  status: () => Promise<Array<{ branch: string, current: boolean }>>
  catchUp: (branch: string) => Promise<unknown>
}

/**
 * The CIDs of every frame of the working tree, the bytes of a few of them (to check answers), and
 * the time it took to bring the frame index up to date first (so list queries are measured in the
 * steady state, not while the first one catches the index up).
 */
async function frameCids (repo: string, catchUpIndex = true): Promise<{ cids: string[], samples: Array<{ cid: string, bytes: Uint8Array }>, indexCatchUpMs: number | null, meanBlockBytes: number }> {
  const node = await createNode({ repo })
  try {
    let indexCatchUpMs: number | null = null
    const index = (node as unknown as { index?: Partial<IndexCatchUp> }).index
    if (catchUpIndex && typeof index?.status === 'function' && typeof index.catchUp === 'function') {
      const t0 = now()
      for (const s of await index.status()) if (!s.current) await index.catchUp(s.branch)
      indexCatchUpMs = round(now() - t0)
      log(`gateway: frame index up to date in ${indexCatchUpMs} ms`)
    }
    const { tree } = await node.refs.resolveTree()
    const cids: string[] = []
    const samples: Array<{ cid: string, bytes: Uint8Array }> = []
    let sizeSum = 0
    let sized = 0
    for await (const entry of entries(node.repo.blocks, tree)) {
      cids.push(entry.value.toString())
      if (samples.length < 3) samples.push({ cid: entry.value.toString(), bytes: await node.repo.blocks.get(entry.value) })
      if (sized < 1000) { sizeSum += (await node.repo.blocks.get(entry.value)).byteLength; sized++ }
    }
    return { cids, samples, indexCatchUpMs, meanBlockBytes: Math.round(sizeSum / Math.max(1, sized)) }
  } finally {
    await node.close()
  }
}

async function check (port: number, path: string, headers: Record<string, string>, expect: { type?: string, bytes?: Uint8Array }): Promise<void> {
  let res: Response
  try {
    res = await fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(120_000) })
  } catch (err) {
    const cause = (err as Error & { cause?: unknown }).cause
    throw new Error(`GET ${path}: ${(err as Error).message}${cause != null ? ` (${String(cause)})` : ''}`)
  }
  const body = new Uint8Array(await res.arrayBuffer())
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${new TextDecoder().decode(body).slice(0, 200)}`)
  if (expect.type != null && !(res.headers.get('content-type') ?? '').startsWith(expect.type)) throw new Error(`GET ${path}: content-type ${res.headers.get('content-type')}`)
  if (expect.bytes != null && Buffer.compare(body, expect.bytes) !== 0) throw new Error(`GET ${path}: not the block's bytes`)
}

const DESCRIPTIONS: Record<string, string> = {
  ceiling: 'hello-world Fastify 5 route on the same /ipfs/{cid} paths and headers',
  heliaRaw: 'bare Fastify route over helia.blockstore.get (offline)',
  framehub: 'createGateway(node, { logger: false, rateLimit: false })',
  framehubAsRun: 'framehub daemon (CLI defaults: info logging to a file, no access log, rate limit, libp2p on 127.0.0.1)'
}

/** Stops every server given, whatever happens to one of them. */
async function stopAll (servers: Array<LoadServer | undefined>): Promise<void> {
  for (const s of servers) await s?.stop().catch((err: unknown) => { log(`gateway: stopping ${s.name}: ${String(err)}`) })
}

/** The best view of a comparison: wrk's when it ran (it is not the bottleneck), else autocannon's. */
const bestView = (c: Comparison): GeneratorComparison => 'servers' in c.wrk ? c.wrk : c.autocannon

async function largeRepoPart (cfg: BenchConfig, gw: GatewayConfig, wrk: WrkSetup, hello: LoadServer): Promise<LargeRepoReport> {
  const t0 = now()
  const repo = await makeRepo(cfg, gw.largeFrames, 'gateway-large')
  const importSeconds = round((now() - t0) / 1000, 1)
  // Only raw blocks are asked for here: the frame index is not needed.
  const { cids, samples, meanBlockBytes } = await frameCids(repo, false)
  shuffle(cids, cfg.seed + 1)
  const storeBytes = await dirBytes(repo)
  const heliaCopy = await copyRepo(repo, 'gateway-large-helia')
  const rawHeaders = { accept: RAW_TYPE }
  const target: Target = { paths: cids.map(c => `/ipfs/${c}`), headers: rawHeaders }
  let helia: Server | undefined
  let fh: Server | undefined
  try {
    helia = await startServer('helia', 'heliaRaw', heliaCopy)
    fh = await startServer('framehub', 'framehub', repo)
    for (const s of samples) {
      await check(helia.port, `/ipfs/${s.cid}`, rawHeaders, { type: RAW_TYPE, bytes: s.bytes })
      await check(fh.port, `/ipfs/${s.cid}`, rawHeaders, { type: RAW_TYPE, bytes: s.bytes })
    }
    // The ceiling does not read the repository: it goes on along its own cursor of these paths.
    const comparison = await compareServers([hello, helia, fh], target, gw, wrk, Math.min(2, gw.rounds), 'large repo',
      { ceiling: DESCRIPTIONS.ceiling as string, heliaRaw: DESCRIPTIONS.heliaRaw as string, framehub: DESCRIPTIONS.framehub as string },
      [['framehub', 'ceiling'], ['framehub', 'heliaRaw'], ['heliaRaw', 'ceiling']])
    // Requests each repository server was sent from these paths, warm-ups included.
    const maxRequests = Math.max(...[helia, fh].map(s => s.cursors.get(target.paths) ?? 0))
    const frameBlocksBytes = meanBlockBytes * cids.length
    return {
      frames: gw.largeFrames,
      cids: cids.length,
      meanBlockBytes,
      frameBlocksMB: mb(frameBlocksBytes),
      leveldbBlockCacheMB: mb(LEVELDB_BLOCK_CACHE_BYTES),
      largerThanCache: frameBlocksBytes > LEVELDB_BLOCK_CACHE_BYTES,
      storeMB: mb(storeBytes),
      importSeconds,
      maxRequestsPerServer: maxRequests,
      pathsWrapped: maxRequests > cids.length,
      comparison
    }
  } finally {
    await stopAll([helia, fh])
  }
}

export async function benchGateway (cfg: BenchConfig, gw: GatewayConfig, repoArg?: string): Promise<GatewayReport> {
  const started = now()
  const loadBefore = loadavg().map(l => round(l, 2))
  const wrk = setUpWrk()
  log(`gateway: ${wrk.ok ? wrk.version : `no wrk: ${wrk.reason}`}`)
  const repo = repoArg ?? await makeRepo(cfg)
  const { cids, samples, indexCatchUpMs, meanBlockBytes } = await frameCids(repo)
  if (cids.length === 0) throw new Error('the repository has no frames')
  shuffle(cids, cfg.seed)
  log(`gateway: ${cids.length} frame CIDs; ${gw.connections} connections; comparison ${gw.rounds} rounds × ${gw.roundSeconds} s per server and generator; other runs ${gw.seconds} s (+${gw.warmupSeconds} s warm-up); soak ${gw.soakSeconds} s`)
  // Every repository-backed server gets its own copy (taken while no process has it open).
  const heliaRepo = await copyRepo(repo, 'gateway-helia')
  const daemonRepo = await copyRepo(repo, 'gateway-daemon')
  const daemonLog = join(await tempDir('gateway-daemon-log'), 'daemon.log')

  const rawHeaders = { accept: RAW_TYPE }
  const raw: Target = { paths: cids.map(c => `/ipfs/${c}`), headers: rawHeaders }
  const kinds = KINDS.map(k => `/api/v1/frames?kind=${k}&limit=20`)
  const tags = TAGS.map(t => `/api/v1/frames?tag=${t}&limit=20`)
  const targets = {
    ipfsRaw: raw,
    frameByCid: { paths: cids.map(c => `/api/v1/frames/${c}`) },
    listByKind: { paths: kinds },
    listByTag: { paths: tags }
  } satisfies Record<string, Target>

  let hello: Server | undefined
  let helia: Server | undefined
  let fh: Server | undefined
  let daemon: (LoadServer & { logFile: string }) | undefined
  const profiles: ProfileReport[] = []
  let comparison: Comparison
  let ceilingStatic: LoadResult
  let ceilingShape: LoadResult
  const endpointRuns: { framehub: Partial<Record<keyof typeof targets, LoadResult>>, framehubAsRun: Partial<Record<keyof typeof targets, LoadResult>> } = { framehub: {}, framehubAsRun: {} }
  let soakLoad: LoadResult
  let memory: MemoryStats
  let largeRepo: GatewayReport['largeRepo']
  let logBytesPerRequest: number | null = null
  try {
    hello = await startServer('hello', 'ceiling', String(meanBlockBytes))
    helia = await startServer('helia', 'heliaRaw', heliaRepo)
    fh = await startServer('framehub', 'framehub', repo)
    daemon = await startDaemon('framehubAsRun', daemonRepo, daemonLog)
    for (const s of samples) {
      for (const server of [helia, fh, daemon]) await check(server.port, `/ipfs/${s.cid}`, rawHeaders, { type: RAW_TYPE, bytes: s.bytes })
      for (const server of [fh, daemon]) await check(server.port, `/api/v1/frames/${s.cid}`, {}, { type: 'application/json' })
    }
    for (const server of [fh, daemon]) {
      await check(server.port, kinds[0] as string, {}, { type: 'application/json' })
      await check(server.port, tags[0] as string, {}, { type: 'application/json' })
    }

    // The comparison: the four servers alternated, by both load generators.
    comparison = await compareServers([hello, helia, fh, daemon], raw, gw, wrk, gw.rounds, 'raw',
      DESCRIPTIONS, [['framehub', 'ceiling'], ['framehub', 'heliaRaw'], ['framehubAsRun', 'ceiling'], ['framehubAsRun', 'heliaRaw'], ['framehubAsRun', 'framehub'], ['heliaRaw', 'ceiling']])

    // References of the ceiling (not compared with anything else).
    ceilingStatic = await measure(hello, { paths: ['/'] }, gw, 'ceiling, static path')
    ceilingShape = await measure(hello, { paths: cids.map(c => `/shaped/${c}`), headers: rawHeaders }, gw, `ceiling, raw-block response shape (${meanBlockBytes} B body)`)

    // framehub's other endpoints, stripped and as run, their order alternating.
    const endpoints = ['frameByCid', 'listByKind', 'listByTag'] as const
    for (const [i, endpoint] of endpoints.entries()) {
      const pair: Array<[keyof typeof endpointRuns, LoadServer]> = [['framehub', fh], ['framehubAsRun', daemon]]
      for (const [name, server] of i % 2 === 0 ? pair : pair.reverse()) {
        endpointRuns[name][endpoint] = await measure(server, targets[endpoint], gw, `${name} ${endpoint}`)
      }
    }
    const logBytes = (await stat(daemon.logFile)).size
    const daemonRequests = comparison.autocannon.servers.framehubAsRun?.requests ?? 0
    const daemonWrkRequests = 'servers' in comparison.wrk ? comparison.wrk.servers.framehubAsRun?.requests ?? 0 : 0
    const answered = daemonRequests + daemonWrkRequests + endpoints.reduce((s, e) => s + (endpointRuns.framehubAsRun[e]?.requests ?? 0), 0)
    logBytesPerRequest = answered > 0 ? Math.round(logBytes / answered) : null
    log(`gateway: the daemon logged ${mb(logBytes)} MB (about ${logBytesPerRequest} B per request, warm-ups included)`)
    await stopAll([helia, daemon])

    log(`gateway: memory soak, ${gw.soakSeconds} s of GET /ipfs/{cid} raw`)
    const server = fh
    const fullGc = async (): Promise<number> => { server.command('gc'); return (await server.next('gc')).heapUsed }
    const gcBefore = await fullGc()
    server.command('mem-start')
    soakLoad = await load(server, raw, gw.soakSeconds, gw.connections, 'soak')
    server.command('mem-stop')
    const memorySamples = (await server.next('memory')).samples
    memory = memoryStats(memorySamples, gcBefore, await fullGc())
    log(`gateway: soak ${soakLoad.requestsPerSecond} req/s; heapUsed ${memory.heapUsedMB.first} → ${memory.heapUsedMB.last} MB (max ${memory.heapUsedMB.max}), slope ${memory.heapUsedSlopeSecondHalfMBPerMin} MB/min; after full GC ${memory.heapAfterFullGcMB.before} → ${memory.heapAfterFullGcMB.after} MB; rss ${memory.rssMB.first} → ${memory.rssMB.last} MB`)

    if (gw.profile) {
      const keep = process.env.BENCH_GATEWAY_PROFILE_DIR
      const dir = keep != null && keep !== '' ? keep : await tempDir('gateway-profile')
      await mkdir(dir, { recursive: true })
      for (const [endpoint, target] of Object.entries(targets)) {
        const file = join(dir, `framehub-${endpoint}.cpuprofile`)
        server.command('prof-start')
        const result = await load(server, target, gw.seconds, gw.connections, `profile ${endpoint}`)
        server.command(`prof-stop ${file}`)
        await server.next('profile')
        const summary = summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile)
        log(`gateway: profiled ${endpoint} (${result.requestsPerSecond} req/s under the profiler): ${summary.byArea.slice(0, 5).map(a => `${a.area} ${a.selfPercent}%`).join(', ')}`)
        profiles.push({ endpoint, requestsPerSecond: result.requestsPerSecond, ...summary, ...(keep != null && keep !== '' ? { file } : {}) })
      }
    }
    await stopAll([fh])

    // The large repository (the ceiling server stays up for its comparison).
    largeRepo = gw.largeFrames > 0
      ? await largeRepoPart(cfg, gw, wrk, hello)
      : { skipped: 'BENCH_GATEWAY_LARGE_FRAMES=0' }
  } finally {
    await stopAll([hello, helia, fh, daemon])
  }

  const ac = comparison.autocannon.servers
  const ceiling = ac.ceiling as MedianLoad
  const heliaRaw = ac.heliaRaw as MedianLoad
  const endpointsOf = (name: 'framehub' | 'framehubAsRun'): Endpoints => ({
    ipfsRaw: compared(ac[name] as MedianLoad, ceiling),
    frameByCid: compared(endpointRuns[name].frameByCid as LoadResult, ceiling),
    listByKind: compared(endpointRuns[name].listByKind as LoadResult, ceiling),
    listByTag: compared(endpointRuns[name].listByTag as LoadResult, ceiling)
  })

  // Goals, on the best load generator of the run.
  const best = bestView(comparison)
  const sameRunOf = (view: GeneratorComparison, name: string): SameRunGoals =>
    sameRunGoals(view.servers[name] as MedianLoad, view.servers.ceiling ?? null, view.servers.heliaRaw ?? null)
  const r = best.servers.framehub as MedianLoad
  const goal = { rawRequestsPerSecond: REFERENCE.rawRps, rawRatioToCeiling: REFERENCE.rawRps / REFERENCE.ceilingRps, rawP99Ms: REFERENCE.rawP99Ms, retainedHeapGrowthMB: 5 }
  const dirty = dirtyReason('framehub', r)
  const judged: Record<string, Judged> = {
    rawRequestsPerSecondMet: judge(r.requestsPerSecond, { atLeast: goal.rawRequestsPerSecond }, { dirty }),
    rawRatioMet: judge(ratioOf(r.requestsPerSecond, best.servers.ceiling?.requestsPerSecond, { anchor: 'ceiling' }), { atLeast: goal.rawRatioToCeiling }, { dirty: dirty ?? dirtyReason('ceiling', best.servers.ceiling) }),
    rawP99Met: judge(r.latencyMs.p99, { below: goal.rawP99Ms }, { dirty }),
    memoryFlatMet: judge(memory.heapAfterFullGcMB.growth, { below: goal.retainedHeapGrowthMB })
  }
  const reasons: Record<string, string> = {}
  for (const [k, j] of Object.entries(judged)) if (!j.met) reasons[k] = j.reason ?? 'not met'
  const met = allMet(Object.values(judged))
  if (!met) reasons.met = Object.keys(reasons).join(', ')
  const largeView = 'comparison' in largeRepo ? bestView(largeRepo.comparison) : null
  return {
    frames: cfg.frames,
    cids: cids.length,
    indexCatchUpMs,
    config: gw,
    ceiling,
    ceilingStaticPath: compared(ceilingStatic, ceiling),
    ceilingRawShape: compared(ceilingShape, ceiling),
    heliaRaw: compared(heliaRaw, ceiling),
    framehub: endpointsOf('framehub'),
    framehubAsRun: { ...endpointsOf('framehubAsRun'), logBytesPerRequest },
    comparison,
    largeRepo,
    soak: { endpoint: 'GET /ipfs/{cid} raw', load: compared(soakLoad, ceiling), memory },
    goal: {
      generator: best.generator,
      ...goal,
      rawRequestsPerSecondMet: judged.rawRequestsPerSecondMet?.met === true,
      rawRatioMet: judged.rawRatioMet?.met === true,
      rawP99Met: judged.rawP99Met?.met === true,
      memoryFlatMet: judged.memoryFlatMet?.met === true,
      met,
      reasons,
      sameRun: sameRunOf(best, 'framehub'),
      sameRunAsRun: sameRunOf(best, 'framehubAsRun'),
      sameRunLargeRepo: largeView != null ? sameRunOf(largeView, 'framehub') : { met: false, reason: `large repository not measured: ${'skipped' in largeRepo ? largeRepo.skipped : 'no comparison'}` },
      sameRunByGenerator: {
        autocannon: sameRunOf(comparison.autocannon, 'framehub'),
        wrk: 'servers' in comparison.wrk ? sameRunOf(comparison.wrk, 'framehub') : { met: false, reason: `wrk did not run: ${comparison.wrk.skipped}` }
      }
    },
    ...(gw.profile ? { profile: profiles } : {}),
    machine: { cpus: cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map(l => round(l, 2)) },
    seconds: round((now() - started) / 1000, 1)
  }
}

if (isMain(import.meta.url)) {
  const killAll = (): void => { for (const child of running) child.kill('SIGKILL') }
  const onSignal = (signal: NodeJS.Signals): void => {
    killAll()
    void cleanupAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const cfg = benchConfig()
    const report = await benchGateway(cfg, gatewayConfig(cfg.quick), process.argv[2])
    process.stdout.write(JSON.stringify(report) + '\n')
  } catch (err) {
    log(`gateway: failed: ${(err as Error).stack ?? String(err)}`)
    process.exitCode = 1
  } finally {
    killAll()
    await cleanupAll()
  }
}
