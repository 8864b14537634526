/**
 * The HTTP gateway under load: autocannon (programmatic, loopback, BENCH_GATEWAY_CONNECTIONS = 50
 * connections, BENCH_GATEWAY_SECONDS = 10 s per measurement, after a BENCH_GATEWAY_WARMUP = 2 s
 * warm-up that is not reported) against servers that each run in their own child process
 * (gateway-server.ts), with this process as the load generator:
 *
 *   ceiling      hello-world Fastify 5 route, requested on the same rotating /ipfs/{cid} paths and
 *                headers as the gateway (so the load generator does the same work per request);
 *                `ceilingStaticPath` is the same server on a fixed `/`, for reference;
 *                `ceilingRawShape` is the same server answering /shaped/{cid} with the headers of a
 *                raw-block answer and a body of the mean size of 1,000 frame blocks: the ceiling for the
 *                bytes a raw answer puts on the wire (the load generator parses them too)
 *   heliaRaw     a bare Fastify route serving raw blocks through Helia (helia.blockstore.get, offline)
 *   framehub     createGateway(node, { logger: false, rateLimit: false }):
 *                  ipfsRaw      GET /ipfs/{cid}, Accept: application/vnd.ipld.raw
 *                  frameByCid   GET /api/v1/frames/{cid}
 *                  listByKind   GET /api/v1/frames?kind=K&limit=20 (K rotates over the kinds)
 *                  listByTag    GET /api/v1/frames?tag=T&limit=20 (T rotates over the tags)
 *   soak         BENCH_SOAK_SECONDS (60) of ipfsRaw on the same server, sampling its
 *                process.memoryUsage() every second
 *
 * CIDs are those of every frame of a committed BENCH_FRAMES-frame repository (the one run.ts
 * passes, or one imported here), shuffled with BENCH_SEED, and every request takes the next one,
 * so the block cache is not hit every time. Latency percentiles are computed from every response
 * time (autocannon's own histogram keeps whole milliseconds only).
 *
 * BENCH_GATEWAY_PROFILE=1 adds, after the measured runs, one profiled run per framehub endpoint
 * (the V8 CPU sampler of --cpu-prof, started and stopped around the load through node:inspector
 * in the server process) and reports the top self-time functions; BENCH_GATEWAY_PROFILE_DIR keeps
 * the .cpuprofile files (open them in Chrome DevTools).
 *
 *   node scripts/bench/gateway.ts [REPO]      prints one JSON document on stdout
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { AutocannonResult } from 'autocannon'
import { entries } from '../../src/core/tree/index.ts'
import { createNode } from '../../src/node.ts'
import { benchConfig, cleanupAll, generateFrameLines, isMain, log, mb, now, prng, round, tempDir } from './common.ts'
import type { BenchConfig } from './common.ts'
import type { MemorySample, ServerMessage, ServerMode } from './gateway-server.ts'

const RAW_TYPE = 'application/vnd.ipld.raw'
const KINDS = ['fact', 'note', 'observation', 'plan', 'claim']
const TAGS = ['physics', 'math', 'biology', 'history', 'code', 'agents', 'ipfs', 'draft', 'verified', 'todo', 'ml', 'data']

export interface GatewayConfig {
  connections: number
  seconds: number
  warmupSeconds: number
  soakSeconds: number
  profile: boolean
}

function numberEnv (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw == null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`)
  return n
}

export function gatewayConfig (quick: boolean): GatewayConfig {
  return {
    connections: Math.max(1, Math.round(numberEnv('BENCH_GATEWAY_CONNECTIONS', 50))),
    seconds: Math.max(1, numberEnv('BENCH_GATEWAY_SECONDS', quick ? 2 : 10)),
    warmupSeconds: numberEnv('BENCH_GATEWAY_WARMUP', quick ? 1 : 2),
    soakSeconds: Math.max(2, numberEnv('BENCH_SOAK_SECONDS', quick ? 6 : 60)),
    profile: process.env.BENCH_GATEWAY_PROFILE === '1'
  }
}

/** One autocannon measurement. */
export interface LoadResult {
  /** Mean of the per-second request counts (autocannon's requests.average). */
  requestsPerSecond: number
  /** Every response time, ms (2xx and not). */
  latencyMs: { mean: number, p50: number, p90: number, p99: number, max: number }
  requests: number
  /** Connection errors (timeouts included) and responses that were not 2xx. */
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

export interface ComparedLoad extends LoadResult {
  /** requestsPerSecond over the ceiling's. */
  ratioToCeiling: number
  /** serverCpuUsPerRequest over the ceiling's. */
  cpuPerRequestOverCeiling: number
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

export interface GatewayReport {
  frames: number
  cids: number
  /** Time to bring the frame index up to date before the runs (null: this node has no index service). */
  indexCatchUpMs: number | null
  config: GatewayConfig
  ceiling: LoadResult
  ceilingStaticPath: ComparedLoad
  ceilingRawShape: ComparedLoad
  heliaRaw: ComparedLoad
  framehub: {
    ipfsRaw: ComparedLoad
    frameByCid: ComparedLoad
    listByKind: ComparedLoad
    listByTag: ComparedLoad
  }
  soak: { endpoint: string, load: ComparedLoad, memory: MemoryStats }
  goal: {
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
    /**
     * The same goals as ratios to the stock components measured in this run, scaled by the
     * issue's reference machine (ceiling 56,000 req/s with p99 4 ms; Fastify + Helia 20,000 req/s
     * with p99 11 ms; goal 28,000 req/s with p99 under 10 ms). On a machine whose load generator
     * cannot produce 28,000 req/s at all, these are the goals that can be judged.
     */
    sameRun: SameRunGoals
  }
  profile?: ProfileReport[]
  /** Load generator and servers share the machine's CPUs with everything else running on it. */
  machine: { cpus: number, loadAverageBefore: number[], loadAverageAfter: number[] }
  seconds: number
}

/** One ratio goal: the value measured in this run and the bound it must meet. */
export interface RatioGoal { value: number, atLeast?: number, below?: number, met: boolean }

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
}

/** The issue's reference machine: what its goals were set against. */
export const REFERENCE = { ceilingRps: 56_000, ceilingP99Ms: 4, heliaRps: 20_000, heliaP99Ms: 11, rawRps: 28_000, rawP99Ms: 10 } as const

export function sameRunGoals (raw: LoadResult, ceiling: LoadResult, helia: LoadResult): SameRunGoals {
  const clean = raw.errors === 0 && raw.non2xx === 0
  const atLeast = (value: number, bound: number): RatioGoal => ({ value: round(value, 3), atLeast: round(bound, 3), met: clean && value >= bound })
  const below = (value: number, bound: number): RatioGoal => ({ value: round(value, 3), below: round(bound, 3), met: clean && value < bound })
  const ratio = (a: number, b: number): number => b > 0 ? a / b : Number.POSITIVE_INFINITY
  const goals = {
    rawRpsOverCeiling: atLeast(ratio(raw.requestsPerSecond, ceiling.requestsPerSecond), REFERENCE.rawRps / REFERENCE.ceilingRps),
    rawRpsOverHelia: atLeast(ratio(raw.requestsPerSecond, helia.requestsPerSecond), REFERENCE.rawRps / REFERENCE.heliaRps),
    rawP99OverCeiling: below(ratio(raw.latencyMs.p99, ceiling.latencyMs.p99), REFERENCE.rawP99Ms / REFERENCE.ceilingP99Ms),
    rawP99OverHelia: below(ratio(raw.latencyMs.p99, helia.latencyMs.p99), REFERENCE.rawP99Ms / REFERENCE.heliaP99Ms)
  }
  return { ...goals, met: Object.values(goals).every(g => g.met) }
}

// ---------------------------------------------------------------------------------------------
// The server child

interface Server {
  readonly mode: ServerMode
  readonly port: number
  readonly child: ChildProcess
  command (line: string): void
  next<T extends ServerMessage['type']> (type: T, timeoutMs?: number): Promise<Extract<ServerMessage, { type: T }>>
  stop (): Promise<void>
}

const running = new Set<ChildProcess>()

async function startServer (mode: ServerMode, repo?: string): Promise<Server> {
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
      log(`gateway: ${mode} server said: ${line}`)
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
        if (m.type === 'error') throw new Error(`${mode} server: ${m.message}`)
        return m as Extract<ServerMessage, { type: T }>
      }
      if (exited) throw new Error(`${mode} server exited (code ${child.exitCode}) before "${type}"`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${mode} server: no "${type}" within ${timeoutMs} ms`)
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
      mode,
      port,
      child,
      command,
      next,
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

// ---------------------------------------------------------------------------------------------
// Load

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number
}

/** A load target: a path maker called for every request, and the headers of every request. */
interface Target {
  path: () => string
  headers?: Record<string, string>
}

async function cpuOf (server: Server): Promise<number> {
  server.command('cpu')
  const { user, system } = await server.next('cpu')
  return user + system
}

async function load (server: Server, target: Target, seconds: number, connections: number, title: string): Promise<LoadResult> {
  const port = server.port
  const cpu0 = await cpuOf(server)
  let times = new Float64Array(1 << 20)
  let n = 0
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    timeout: 10,
    title,
    headers: target.headers,
    requests: [{ method: 'GET', setupRequest: (request) => { request.path = target.path(); return request } }]
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
  const cpuUs = await cpuOf(server) - cpu0
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
    serverCpuUsPerRequest: round(cpuUs / Math.max(1, n), 1)
  }
}

/** A warm-up (not reported), then the measurement. */
async function measure (server: Server, target: Target, gw: GatewayConfig, title: string, seconds = gw.seconds): Promise<LoadResult> {
  if (gw.warmupSeconds > 0) await load(server, target, gw.warmupSeconds, gw.connections, `${title} warm-up`)
  const result = await load(server, target, seconds, gw.connections, title)
  const bad = result.errors + result.non2xx
  log(`gateway: ${title}: ${result.requestsPerSecond} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, server CPU ${result.serverCpuUsPerRequest} µs/request${bad > 0 ? `, ${result.errors} errors, ${result.non2xx} non-2xx ${JSON.stringify(result.statusCodes)}` : ''}`)
  return result
}

const compared = (result: LoadResult, ceiling: LoadResult): ComparedLoad => ({
  ...result,
  ratioToCeiling: round(result.requestsPerSecond / Math.max(1, ceiling.requestsPerSecond), 3),
  cpuPerRequestOverCeiling: round(result.serverCpuUsPerRequest / Math.max(0.1, ceiling.serverCpuUsPerRequest), 2)
})

/** Cycles through `items` in order, for every connection at once. */
function rotate (items: readonly string[]): () => string {
  let i = 0
  return () => {
    const item = items[i] as string
    i = i + 1 === items.length ? 0 : i + 1
    return item
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

/** A committed repository of `cfg.frames` frames (frames.import, then commits.commit). */
async function makeRepo (cfg: BenchConfig): Promise<string> {
  const repo = join(await tempDir('gateway'), 'repo')
  const node = await createNode({ repo, create: true })
  try {
    log(`gateway: importing ${cfg.frames} frames`)
    const t0 = now()
    const lines = generateFrameLines(cfg.frames, cfg.frameBytes, cfg.seed)
    await node.frames.import(lines)
    await node.commits.commit({ message: `gateway bench: ${cfg.frames} frames` })
    log(`gateway: repository ready in ${round((now() - t0) / 1000, 1)} s`)
  } finally {
    await node.close()
  }
  return repo
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
async function frameCids (repo: string): Promise<{ cids: string[], samples: Array<{ cid: string, bytes: Uint8Array }>, indexCatchUpMs: number | null, meanBlockBytes: number }> {
  const node = await createNode({ repo })
  try {
    let indexCatchUpMs: number | null = null
    const index = (node as unknown as { index?: Partial<IndexCatchUp> }).index
    if (typeof index?.status === 'function' && typeof index.catchUp === 'function') {
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

export async function benchGateway (cfg: BenchConfig, gw: GatewayConfig, repoArg?: string): Promise<GatewayReport> {
  const started = now()
  const loadBefore = loadavg().map(l => round(l, 2))
  const repo = repoArg ?? await makeRepo(cfg)
  const { cids, samples, indexCatchUpMs, meanBlockBytes } = await frameCids(repo)
  if (cids.length === 0) throw new Error('the repository has no frames')
  shuffle(cids, cfg.seed)
  log(`gateway: ${cids.length} frame CIDs; ${gw.connections} connections, ${gw.seconds} s per run (+${gw.warmupSeconds} s warm-up), soak ${gw.soakSeconds} s`)

  const rawHeaders = { accept: RAW_TYPE }
  const ipfsPaths = cids.map(c => `/ipfs/${c}`)
  const framePaths = cids.map(c => `/api/v1/frames/${c}`)
  const raw = (): Target => ({ path: rotate(ipfsPaths), headers: rawHeaders })

  // Ceiling: hello world, on the same paths and headers as the raw requests.
  let server = await startServer('hello', String(meanBlockBytes))
  let ceiling: LoadResult
  let ceilingStatic: LoadResult
  let ceilingShape: LoadResult
  try {
    ceiling = await measure(server, raw(), gw, 'ceiling (hello world)')
    ceilingStatic = await measure(server, { path: () => '/' }, gw, 'ceiling, static path')
    const shapedPaths = cids.map(c => `/shaped/${c}`)
    ceilingShape = await measure(server, { path: rotate(shapedPaths), headers: rawHeaders }, gw, `ceiling, raw-block response shape (${meanBlockBytes} B body)`)
  } finally {
    await server.stop()
  }

  // Stock anchor: Fastify + Helia.
  server = await startServer('helia', repo)
  let heliaRaw: LoadResult
  try {
    for (const s of samples) await check(server.port, `/ipfs/${s.cid}`, rawHeaders, { type: RAW_TYPE, bytes: s.bytes })
    heliaRaw = await measure(server, raw(), gw, 'Fastify + Helia raw blocks')
  } finally {
    await server.stop()
  }

  // framehub's gateway.
  server = await startServer('framehub', repo)
  let fh: GatewayReport['framehub']
  let soak: GatewayReport['soak']
  const profiles: ProfileReport[] = []
  try {
    const kinds = KINDS.map(k => `/api/v1/frames?kind=${k}&limit=20`)
    const tags = TAGS.map(t => `/api/v1/frames?tag=${t}&limit=20`)
    for (const s of samples) {
      await check(server.port, `/ipfs/${s.cid}`, rawHeaders, { type: RAW_TYPE, bytes: s.bytes })
      await check(server.port, `/api/v1/frames/${s.cid}`, {}, { type: 'application/json' })
    }
    await check(server.port, kinds[0] as string, {}, { type: 'application/json' })
    await check(server.port, tags[0] as string, {}, { type: 'application/json' })
    const targets = {
      ipfsRaw: raw,
      frameByCid: (): Target => ({ path: rotate(framePaths) }),
      listByKind: (): Target => ({ path: rotate(kinds) }),
      listByTag: (): Target => ({ path: rotate(tags) })
    }
    fh = {
      ipfsRaw: compared(await measure(server, targets.ipfsRaw(), gw, 'framehub GET /ipfs/{cid} raw'), ceiling),
      frameByCid: compared(await measure(server, targets.frameByCid(), gw, 'framehub GET /api/v1/frames/{cid}'), ceiling),
      listByKind: compared(await measure(server, targets.listByKind(), gw, 'framehub GET /api/v1/frames?kind&limit=20'), ceiling),
      listByTag: compared(await measure(server, targets.listByTag(), gw, 'framehub GET /api/v1/frames?tag&limit=20'), ceiling)
    }

    log(`gateway: memory soak, ${gw.soakSeconds} s of GET /ipfs/{cid} raw`)
    const fullGc = async (): Promise<number> => { server.command('gc'); return (await server.next('gc')).heapUsed }
    const gcBefore = await fullGc()
    server.command('mem-start')
    const soakLoad = await load(server, raw(), gw.soakSeconds, gw.connections, 'soak')
    server.command('mem-stop')
    const memorySamples = (await server.next('memory')).samples
    const memory = memoryStats(memorySamples, gcBefore, await fullGc())
    log(`gateway: soak ${soakLoad.requestsPerSecond} req/s; heapUsed ${memory.heapUsedMB.first} → ${memory.heapUsedMB.last} MB (max ${memory.heapUsedMB.max}), slope ${memory.heapUsedSlopeSecondHalfMBPerMin} MB/min; after full GC ${memory.heapAfterFullGcMB.before} → ${memory.heapAfterFullGcMB.after} MB; rss ${memory.rssMB.first} → ${memory.rssMB.last} MB`)
    soak = { endpoint: 'GET /ipfs/{cid} raw', load: compared(soakLoad, ceiling), memory }

    if (gw.profile) {
      const keep = process.env.BENCH_GATEWAY_PROFILE_DIR
      const dir = keep != null && keep !== '' ? keep : await tempDir('gateway-profile')
      await mkdir(dir, { recursive: true })
      for (const [endpoint, target] of Object.entries(targets)) {
        const file = join(dir, `framehub-${endpoint}.cpuprofile`)
        server.command('prof-start')
        const result = await load(server, target(), gw.seconds, gw.connections, `profile ${endpoint}`)
        server.command(`prof-stop ${file}`)
        await server.next('profile')
        const summary = summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile)
        log(`gateway: profiled ${endpoint} (${result.requestsPerSecond} req/s under the profiler): ${summary.byArea.slice(0, 5).map(a => `${a.area} ${a.selfPercent}%`).join(', ')}`)
        profiles.push({ endpoint, requestsPerSecond: result.requestsPerSecond, ...summary, ...(keep != null && keep !== '' ? { file } : {}) })
      }
    }
  } finally {
    await server.stop()
  }

  const goal = { rawRequestsPerSecond: REFERENCE.rawRps, rawRatioToCeiling: REFERENCE.rawRps / REFERENCE.ceilingRps, rawP99Ms: REFERENCE.rawP99Ms, retainedHeapGrowthMB: 5 }
  const r = fh.ipfsRaw
  const rawRequestsPerSecondMet = r.requestsPerSecond >= goal.rawRequestsPerSecond
  const rawRatioMet = r.ratioToCeiling >= goal.rawRatioToCeiling
  const rawP99Met = r.latencyMs.p99 < goal.rawP99Ms && r.errors === 0 && r.non2xx === 0
  const memoryFlatMet = soak.memory.heapAfterFullGcMB.growth < goal.retainedHeapGrowthMB
  return {
    frames: cfg.frames,
    cids: cids.length,
    indexCatchUpMs,
    config: gw,
    ceiling,
    ceilingStaticPath: compared(ceilingStatic, ceiling),
    ceilingRawShape: compared(ceilingShape, ceiling),
    heliaRaw: compared(heliaRaw, ceiling),
    framehub: fh,
    soak,
    goal: { ...goal, rawRequestsPerSecondMet, rawRatioMet, rawP99Met, memoryFlatMet, met: rawRequestsPerSecondMet && rawRatioMet && rawP99Met && memoryFlatMet, sameRun: sameRunGoals(r, ceiling, heliaRaw) },
    ...(gw.profile ? { profile: profiles } : {}),
    machine: { cpus: cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map(l => round(l, 2)) },
    seconds: round((now() - started) / 1000, 1)
  }
}

if (isMain(import.meta.url)) {
  const stopAll = (): void => { for (const child of running) child.kill('SIGKILL') }
  const onSignal = (signal: NodeJS.Signals): void => {
    stopAll()
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
    stopAll()
    await cleanupAll()
  }
}
