/**
 * framehub sync between two nodes on loopback, beside the stock anchors of sync-anchors.ts, all in
 * one run. Node A is a framehub node in a child process (scripts/bench/sync-peer.ts, driven by one
 * JSON command per line); node B is a framehub node in this process. Both listen on
 * 127.0.0.1 TCP only, in their own network name `bench-sync`; B dials A (and has it as bootstrap).
 *
 *   chain   A appends a linear session of BENCH_SYNC_STEPS steps (default 10,000: one session,
 *           each step's parent the previous one); B syncs its head with framehub sync
 *           (`replication.sync(head, { from: [A] })`, no haves): ms, blocks, bytes, blocks/s.
 *   commit  A imports BENCH_SYNC_FRAMES frames (default 100,000, ~BENCH_FRAME_BYTES each, as the
 *           frame-import bench makes them) on `main` and commits; B syncs the commit: ms, blocks, MB/s.
 *   live    A creates `shared/main` from that commit (auto-publish on; not timed: the first
 *           publish checks the whole DAG, and B creates its own shared/main by fast-forward),
 *           then BENCH_SYNC_LIVE_ROUNDS times (default 10) changes one frame and commits. Timed
 *           from A's `commit()` returning to B's `ref:move` event for `shared/main` at that commit
 *           (A publishes its chain entry, OrbitDB replicates it, B syncs and fast-forwards). The
 *           two processes share the machine's clock: times are epoch ms from
 *           `performance.timeOrigin + performance.now()` in each, corrected by an offset estimated
 *           with a few clock round trips (reported with its uncertainty). B keeps its defaults
 *           (it re-publishes what it fast-forwarded); each round waits for that publish before the
 *           next, so rounds do not overlap.
 *   anchors `runSyncAnchor` of sync-anchors.ts in this process after the framehub nodes are
 *           closed: bitswap-walk (BENCH_SYNC_WALK blocks, default 200, extrapolated to the chain's
 *           length), bitswap-known (BENCH_SYNC_KNOWN, default 2,000, 32 in flight) and
 *           orbitdb-replicate (BENCH_SYNC_ORBIT, default 1,000 entries; skipped with
 *           BENCH_ORBITDB=0). They run with both stock nodes in one process unless
 *           BENCH_SYNC_PROCESSES=2 (their author measured one process as the faster setting for
 *           the stock tools, so the ratios are not flattered). BENCH_SYNC_ANCHORS=0 skips them.
 *
 * Breakdown (BENCH_SYNC_BREAKDOWN=0 skips it): after the measured syncs, for the chain and the
 * commit, the same answer is taken apart: A's server work alone (missingBlocks over its store,
 * then walk + CAR encoding, no network), B fetching the answer without importing it (server walk,
 * CAR, noise/yamux, receive: time to first byte and to the end), and `snapshots.importCar` of the
 * buffered answer into a fresh offline repository, with the LevelDB calls it makes counted and
 * timed. BENCH_SYNC_PROFILE=DIR also writes V8 CPU profiles of those phases (A while serving the
 * fetch, B while fetching, B while importing) to DIR and summarises them (self time by module,
 * top functions; the live rounds of both nodes too) in the report; with BENCH_SYNC_PROFILE_SYNCS=1
 * also both nodes during the measured chain and commit syncs (whose times the profiler then inflates). BENCH_SYNC_INDEX_CATCHUP=1
 * brings both nodes' frame index of shared/main up to date before the live rounds (diagnostic: by
 * default the index stays behind after the 100k-frame branch creation, as on a node nobody
 * queries, and every ref move then pays for a diff from the indexed tree).
 *
 * Sizes: BENCH_SYNC_STEPS (10,000), BENCH_SYNC_FRAMES (100,000), BENCH_SYNC_LIVE_ROUNDS (10),
 * BENCH_SYNC_WALK (200), BENCH_SYNC_KNOWN (2,000), BENCH_SYNC_ORBIT (1,000); BENCH_QUICK=1 shrinks
 * them all (500 steps, 5,000 frames, 3 rounds, 30 / 200 / 50 for the anchors).
 * `blocks` of a transfer is what B's import counted (received blocks, plus stored blocks they
 * link to: none here, B starts empty), `bytes` the block data received.
 *
 *   npx node scripts/bench/sync.ts      (or `BENCH_ONLY=sync npm run bench`)
 *
 * prints one JSON document on stdout (progress on stderr) and exits.
 */
import { spawn } from 'node:child_process'
import type { ChildProcessByStdio } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join, resolve as resolvePath } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { benchConfig, cleanupAll, isMain, log, mb, now, perSecond, round, tempDir } from './common.ts'
import type { BenchConfig } from './common.ts'
import type { PeerCommand } from './sync-peer.ts'
import { allMet, judge } from './goals.ts'
import type { Bound, Judged, Measurement } from './goals.ts'
import { KNOWN_CONCURRENCY, runSyncAnchor } from './sync-anchors.ts'
import type { BitswapKnownResult, BitswapWalkResult, OrbitReplicateResult } from './sync-anchors.ts'

// -------------------------------------------------------------------------------------------
// Configuration

export interface SyncBenchConfig {
  steps: number
  frames: number
  frameBytes: number
  seed: number
  liveRounds: number
  walkBlocks: number
  knownBlocks: number
  orbitEntries: number
  orbitdb: boolean
  anchorProcesses: 1 | 2
  /** Run the stock anchors (BENCH_SYNC_ANCHORS=0 skips them, e.g. for profiling runs). */
  anchors: boolean
  breakdown: boolean
  /**
   * BENCH_SYNC_INDEX_CATCHUP=1: bring both nodes' frame index of shared/main up to date before the
   * live rounds (a diagnostic: by default the index stays where the 100k-frame branch creation
   * left it, as on a node nobody queries).
   */
  indexCatchUp: boolean
  profileDir: string | null
}

function intEnv (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw == null || raw === '') return fallback
  const n = Number(raw.replaceAll('_', ''))
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`)
  return n
}

export function syncConfig (cfg: BenchConfig): SyncBenchConfig {
  const q = cfg.quick
  const profile = process.env.BENCH_SYNC_PROFILE
  return {
    steps: intEnv('BENCH_SYNC_STEPS', q ? 500 : 10_000),
    frames: intEnv('BENCH_SYNC_FRAMES', q ? 5_000 : 100_000),
    frameBytes: cfg.frameBytes,
    seed: cfg.seed,
    liveRounds: intEnv('BENCH_SYNC_LIVE_ROUNDS', q ? 3 : 10),
    walkBlocks: intEnv('BENCH_SYNC_WALK', q ? 30 : 200),
    knownBlocks: intEnv('BENCH_SYNC_KNOWN', q ? 200 : 2_000),
    orbitEntries: intEnv('BENCH_SYNC_ORBIT', q ? 50 : 1_000),
    orbitdb: cfg.orbitdb,
    anchorProcesses: process.env.BENCH_SYNC_PROCESSES === '2' ? 2 : 1,
    anchors: process.env.BENCH_SYNC_ANCHORS !== '0',
    breakdown: process.env.BENCH_SYNC_BREAKDOWN !== '0',
    indexCatchUp: process.env.BENCH_SYNC_INDEX_CATCHUP === '1',
    profileDir: profile != null && profile !== '' && profile !== '0' ? resolvePath(profile) : null
  }
}

// -------------------------------------------------------------------------------------------
// Report

export interface SyncTransfer {
  ms: number
  /** As `replication.sync` measured itself (request to visible). */
  syncMs: number
  blocks: number
  bytes: number
  blocksPerSecond: number
  MBps: number
  /** With BENCH_SYNC_PROFILE: CPU profiles of A and B during this sync (so the measured time is not clean). */
  profiles?: { a: ProfileSummary, b: ProfileSummary }
}

export interface LiveRound {
  commit: string
  /** A's commit() returning → B's ref:move of shared/main to it (clock offset corrected). */
  visibleMs: number
  /** A's commit() returning → A's own `publish` event (coherence check + chain append). */
  publishMs: number | null
  /** B's `sync:done` for the commit → B's ref:move (fast-forward and index update). */
  fastForwardMs: number | null
  /** B's sync of the commit, as it measured itself. */
  syncMs: number | null
  /**
   * Blocks B's import walked: those received plus the already stored blocks they link to (an
   * import with `partial` counts the stored boundary it stops at), so more than were sent.
   */
  syncBlocksChecked: number | null
  /** Bytes of block data received. */
  syncBytes: number | null
  /** A's publish → B's sync start: chain entry replication and B's chain read. */
  propagationMs: number | null
  commitMs: number
}

export interface LevelOpStats { calls: number, ms: number, keys: number }

export interface ProfileSummary {
  file: string
  totalMs: number
  idleMs: number
  gcMs: number
  /** Self time by module, ms, largest first. */
  byModule: Record<string, number>
  topSelf: Array<{ fn: string, at: string, ms: number }>
  /** Inclusive time of the framehub functions on the path (largest first). */
  topFramehubInclusive: Array<{ fn: string, at: string, ms: number }>
}

export interface SyncBreakdown {
  /** A alone: missingBlocks over its store, then missingBlocks + CarWriter (no network). */
  server: { blocks: number, carBytes: number, walkMs: number, walkCarMs: number, reads: Record<'get' | 'getMany', LevelOpStats> }
  /** B asks A (network.fetch) and drains the CAR without importing it. */
  fetch: { firstChunkMs: number, ms: number, carBytes: number, chunks: number }
  /** snapshots.importCar({ partial: true }) of the buffered CAR into a fresh offline repository. */
  import: { ms: number, blocks: number, level: Record<string, LevelOpStats> }
  profiles?: { serverWhileFetch?: ProfileSummary, clientFetch?: ProfileSummary, import?: ProfileSummary }
}

type AnchorOutcome<T> = ({ ok: true } & T) | { ok: false, error: string }

export interface SyncReport {
  config: SyncBenchConfig
  setup: {
    topology: string
    chainBuildMs: number
    chainBuildStepsPerSecond: number
    importMs: number
    importCommitMs: number
    connectMs: number
    clockOffsetMs: number
    clockUncertaintyMs: number
  }
  chain: SyncTransfer & { steps: number }
  commit: SyncTransfer & { frames: number }
  live: {
    rounds: LiveRound[]
    p50Ms: number
    maxMs: number
    minMs: number
    /** Medians of the parts (see LiveRound). */
    medianPublishMs: number | null
    medianPropagationMs: number | null
    medianSyncMs: number | null
    medianFastForwardMs: number | null
    /** Not timed: shared/main created and first published on A (full coherence check), then seen on B. */
    setupPublishMs: number
    setupVisibleOnBMs: number
    /** BENCH_SYNC_INDEX_CATCHUP=1: the catch-ups done before the rounds. */
    indexCatchUp?: { a: { mode: string, frames: number, ms: number }, b: { mode: string, frames: number, ms: number } }
    /** BENCH_SYNC_PROFILE: CPU profiles of A and B over all live rounds (the waits between them included). */
    profiles?: { a: ProfileSummary, b: ProfileSummary }
  }
  breakdown: { chain: SyncBreakdown, commit: SyncBreakdown } | null
  anchors: {
    bitswapWalk: AnchorOutcome<BitswapWalkResult & { extrapolatedSecondsForChain: number }>
    bitswapKnown: AnchorOutcome<BitswapKnownResult & { extrapolatedSecondsForChain: number }>
    orbitdbReplicate: AnchorOutcome<OrbitReplicateResult & { extrapolatedSecondsForChain: number }>
  }
  ratios: {
    chainVsBitswapWalk: number | null
    chainVsBitswapKnown: number | null
    chainVsOrbitdb: number | null
  }
  goals: {
    /** Every goal is judged (goals.ts): a ratio whose anchor failed or was skipped is not met, with a reason. */
    chainVsWalk: SyncGoal
    chainVsKnown: SyncGoal
    chainMs: SyncGoal
    commitMs: SyncGoal
    liveP50Ms: SyncGoal
    /** Every live round under the bound, not only the median. */
    liveMaxMs: SyncGoal
    met: boolean
  }
}

/** One sync goal: its bound (`goal`), the value measured and the verdict of goals.ts's `judge`. */
export interface SyncGoal extends Judged { goal: number }

/** The sync goals' bounds: ratios at least, times below (ms). */
export const SYNC_GOALS = {
  chainVsWalk: { atLeast: 100 },
  chainVsKnown: { atLeast: 5 },
  chainMs: { below: 1000 },
  commitMs: { below: 5000 },
  liveP50Ms: { below: 100 },
  liveMaxMs: { below: 100 }
} as const satisfies Record<string, Bound>

/** Judges the sync measurements (a missing one, or one whose anchor failed, is not met). */
export function syncGoals (values: Record<keyof typeof SYNC_GOALS, Measurement>): SyncReport['goals'] {
  const judged = {} as Record<keyof typeof SYNC_GOALS, SyncGoal>
  for (const name of Object.keys(SYNC_GOALS) as Array<keyof typeof SYNC_GOALS>) {
    const bound: Bound = SYNC_GOALS[name]
    judged[name] = { goal: bound.atLeast ?? bound.below as number, ...judge(values[name], bound) }
  }
  return { ...judged, met: allMet(Object.values(judged)) }
}

// -------------------------------------------------------------------------------------------
// Node A, in a child process

const epochNow = (): number => performance.timeOrigin + performance.now()

type PeerAnswer = Record<string, unknown> & { id: number, ok: boolean, error?: string }

class PeerA {
  readonly peerId: string
  readonly addrs: string[]
  readonly #child: ChildProcessByStdio<Writable, Readable, null>
  readonly #waiting = new Map<number, { resolve: (a: PeerAnswer) => void, reject: (e: Error) => void }>()
  readonly #exited: Promise<void>
  #next = 1

  private constructor (child: ChildProcessByStdio<Writable, Readable, null>, ready: { peerId: string, addrs: string[] }, exited: Promise<void>, lines: AsyncIterator<string>) {
    this.#child = child
    this.peerId = ready.peerId
    this.addrs = ready.addrs
    this.#exited = exited
    void (async () => {
      for (;;) {
        const r = await lines.next().catch(() => ({ done: true as const, value: undefined }))
        if (r.done === true) break
        const answer = JSON.parse(r.value) as PeerAnswer
        this.#waiting.get(answer.id)?.resolve(answer)
        this.#waiting.delete(answer.id)
      }
      for (const w of this.#waiting.values()) w.reject(new Error('node A closed its output'))
      this.#waiting.clear()
    })()
  }

  static async start (repoDir: string): Promise<PeerA> {
    const script = fileURLToPath(new URL('./sync-peer.ts', import.meta.url))
    const child = spawn(process.execPath, [script, repoDir], { stdio: ['pipe', 'pipe', 'inherit'] })
    const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
    child.stdin.on('error', () => {})
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
    try {
      const first = await lines.next()
      if (first.done === true) throw new Error('node A exited before it was ready')
      const ready = JSON.parse(first.value) as { ready: boolean, peerId: string, addrs: string[] }
      return new PeerA(child, ready, exited, lines)
    } catch (err) {
      child.kill('SIGKILL')
      await exited
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  async call<T extends Record<string, unknown>> (op: PeerCommand['op'], args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.#next++
    const answer = await new Promise<PeerAnswer>((resolve, reject) => {
      const timer = setTimeout(() => { this.#waiting.delete(id); reject(new Error(`node A: ${op} gave no answer within ${timeoutMs} ms`)) }, timeoutMs)
      this.#waiting.set(id, {
        resolve: (a) => { clearTimeout(timer); resolve(a) },
        reject: (e) => { clearTimeout(timer); reject(e) }
      })
      this.#child.stdin.write(JSON.stringify({ ...args, id, op }) + '\n')
    })
    if (!answer.ok) throw new Error(`node A: ${op} failed: ${answer.error ?? 'unknown error'}`)
    return answer as unknown as T
  }

  async close (): Promise<void> {
    if (this.#child.exitCode == null && this.#child.signalCode == null) {
      await this.call('close', {}, 15_000).catch(() => {})
      this.#child.stdin.end()
    }
    const timer = setTimeout(() => { this.#child.kill('SIGKILL') }, 15_000)
    await this.#exited
    clearTimeout(timer)
  }

  kill (): void {
    if (this.#child.exitCode == null && this.#child.signalCode == null) this.#child.kill('SIGKILL')
  }
}

/** Offset of A's clock relative to ours (A − B), from the clock round trip with the smallest RTT. */
async function clockOffset (peer: PeerA): Promise<{ offset: number, uncertainty: number }> {
  let best = { offset: 0, uncertainty: Infinity }
  for (let i = 0; i < 7; i++) {
    const t0 = epochNow()
    const { at } = await peer.call<{ at: number }>('clock')
    const t1 = epochNow()
    const rtt = t1 - t0
    if (rtt / 2 < best.uncertainty) best = { offset: at - (t0 + t1) / 2, uncertainty: rtt / 2 }
  }
  return { offset: round(best.offset, 3), uncertainty: round(best.uncertainty, 3) }
}

// -------------------------------------------------------------------------------------------
// CPU profiles

interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }>
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

async function startProfile (intervalUs = 500): Promise<() => Promise<CpuProfile>> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs })
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    return profile as unknown as CpuProfile
  }
}

const ROOT = resolvePath(fileURLToPath(new URL('../..', import.meta.url)))

function moduleOf (url: string, fn: string): string {
  if (fn === '(garbage collector)') return '(gc)'
  if (fn === '(idle)' || fn === '(program)' || fn === '(root)') return fn
  if (url === '') return '(native / builtins)'
  if (url.startsWith('node:inspector')) return '(profiler itself)'
  if (url.startsWith('node:')) return 'node internals'
  const path = url.startsWith('file://') ? fileURLToPath(url) : url
  const nm = path.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/')
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : rest[0] ?? path
  }
  return path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path
}

function summarizeProfile (profile: CpuProfile, file: string): ProfileSummary {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    const id = profile.samples[i] as number
    self.set(id, (self.get(id) ?? 0) + dt)
    total += dt
  }
  const byModule = new Map<string, number>()
  const byFn = new Map<string, { fn: string, at: string, ms: number }>()
  const inclusive = new Map<string, { fn: string, at: string, ms: number }>()
  const key = (n: CpuProfile['nodes'][number]): { k: string, fn: string, at: string } => {
    const at = `${moduleOf(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`
    const fn = n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName
    return { k: `${fn} ${at}`, fn, at }
  }
  for (const [id, ms] of self) {
    const n = byId.get(id)
    if (n == null) continue
    const mod = moduleOf(n.callFrame.url, n.callFrame.functionName)
    byModule.set(mod, (byModule.get(mod) ?? 0) + ms)
    const { k, fn, at } = key(n)
    const entry = byFn.get(k) ?? { fn, at, ms: 0 }
    entry.ms += ms
    byFn.set(k, entry)
    // Inclusive time of framehub's own functions on this sample's stack (each once).
    const counted = new Set<string>()
    for (let cur: number | undefined = id; cur != null; cur = parent.get(cur)) {
      const node = byId.get(cur)
      if (node == null) break
      if (!node.callFrame.url.includes('/src/') || node.callFrame.url.includes('/node_modules/')) continue
      const kk = key(node)
      if (counted.has(kk.k)) continue
      counted.add(kk.k)
      const e = inclusive.get(kk.k) ?? { fn: kk.fn, at: kk.at, ms: 0 }
      e.ms += ms
      inclusive.set(kk.k, e)
    }
  }
  const sortedModules = [...byModule].sort((a, b) => b[1] - a[1])
  const top = (m: Map<string, { fn: string, at: string, ms: number }>, n: number): Array<{ fn: string, at: string, ms: number }> =>
    [...m.values()].sort((a, b) => b.ms - a.ms).slice(0, n).map(e => ({ ...e, ms: round(e.ms) }))
  return {
    file,
    totalMs: round(total),
    idleMs: round(byModule.get('(idle)') ?? 0),
    gcMs: round(byModule.get('(gc)') ?? 0),
    byModule: Object.fromEntries(sortedModules.filter(([, ms]) => ms >= 1).map(([m, ms]) => [m, round(ms)])),
    topSelf: top(byFn, 15),
    topFramehubInclusive: top(inclusive, 15)
  }
}

// -------------------------------------------------------------------------------------------
// Helpers

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const medianOrNull = (values: Array<number | null>): number | null => {
  const v = values.filter((x): x is number => x != null)
  return v.length === 0 ? null : round(median(v), 2)
}

/** Resolves with the epoch time of the first event `match` accepts (already seen ones included). */
class EventLog {
  readonly #seen: Array<{ at: number, type: string, detail: Record<string, unknown> }> = []
  readonly #waiters = new Set<{ match: (type: string, d: Record<string, unknown>) => boolean, resolve: (at: number) => void }>()

  constructor (node: FramehubNode) {
    node.events.subscribe((e) => {
      const entry = { at: epochNow(), type: e.type, detail: e.detail as unknown as Record<string, unknown> }
      this.#seen.push(entry)
      if (this.#seen.length > 10_000) this.#seen.splice(0, 5_000)
      for (const w of [...this.#waiters]) {
        if (w.match(entry.type, entry.detail)) { this.#waiters.delete(w); w.resolve(entry.at) }
      }
    })
  }

  find (match: (type: string, d: Record<string, unknown>) => boolean): { at: number, detail: Record<string, unknown> } | undefined {
    return this.#seen.find(e => match(e.type, e.detail))
  }

  async wait (what: string, match: (type: string, d: Record<string, unknown>) => boolean, timeoutMs: number): Promise<number> {
    const seen = this.find(match)
    if (seen != null) return seen.at
    return await new Promise<number>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (at: number) => { clearTimeout(timer); resolve(at) }
      }
      const timer = setTimeout(() => { this.#waiters.delete(waiter); reject(new Error(`${what}: not within ${timeoutMs} ms`)) }, timeoutMs)
      this.#waiters.add(waiter)
    })
  }
}

const refMovedTo = (ref: string, to: string) => (type: string, d: Record<string, unknown>): boolean => type === 'ref:move' && d.ref === ref && d.to === to
const publishedHead = (head: string) => (type: string, d: Record<string, unknown>): boolean => type === 'publish' && d.head === head
const syncDoneOf = (want: string) => (type: string, d: Record<string, unknown>): boolean => type === 'sync:done' && d.want === want

async function measureSync (b: FramehubNode, want: CID, from: string, what: string, profile?: { a: PeerA, dir: string }): Promise<SyncTransfer> {
  const replication = b.replication
  if (replication == null) throw new Error('node B has no replication')
  log(`sync ${what}: B syncs ${want} from A`)
  if (profile != null) await profile.a.call('profile-start', { intervalUs: 500 })
  const stopB = profile != null ? await startProfile() : null
  const t0 = now()
  const r = await replication.sync(want, { from: [from], signal: AbortSignal.timeout(10 * 60_000) })
  const ms = now() - t0
  let profiles: SyncTransfer['profiles']
  if (profile != null && stopB != null) {
    const fileB = join(profile.dir, `sync-${what}-B.cpuprofile`)
    const fileA = join(profile.dir, `sync-${what}-A.cpuprofile`)
    const p = await stopB()
    await writeFile(fileB, JSON.stringify(p))
    await profile.a.call('profile-stop', { path: fileA })
    profiles = { a: summarizeProfile(JSON.parse(await readFile(fileA, 'utf8')) as CpuProfile, fileA), b: summarizeProfile(p, fileB) }
  }
  if (r.peer !== from) throw new Error(`${what}: synced from "${r.peer}", expected node A`)
  if (!await b.repo.blocks.has(want)) throw new Error(`${what}: B lacks ${want} after the sync`)
  log(`sync ${what}: ${r.blocks} blocks, ${mb(r.bytes)} MB in ${round(ms)} ms (${perSecond(r.blocks, ms)} blocks/s)`)
  return { ms: round(ms), syncMs: round(r.ms), blocks: r.blocks, bytes: r.bytes, blocksPerSecond: perSecond(r.blocks, ms), MBps: round(r.bytes / 1e6 / (ms / 1000), 1), ...(profiles != null ? { profiles } : {}) }
}

/** Wraps the LevelDB calls an import makes on `node`'s repository, counting calls, keys and time. */
function instrumentLevel (node: FramehubNode): Record<string, LevelOpStats> {
  const stats: Record<string, LevelOpStats> = {}
  const subs = { pending: node.repo.db.pending, blocks: node.repo.db.blocks } as unknown as Record<string, Record<string, (...args: unknown[]) => unknown>>
  for (const [name, sub] of Object.entries(subs)) {
    for (const method of ['batch', 'getMany', 'get', 'clear'] as const) {
      const original = sub[method]
      if (typeof original !== 'function') continue
      const s: LevelOpStats = { calls: 0, ms: 0, keys: 0 }
      stats[`${name}.${method}`] = s
      sub[method] = function (this: unknown, ...args: unknown[]) {
        // `batch()` with no argument returns a chained batch, synchronously: leave it alone.
        if (args.length === 0 && method === 'batch') return original.apply(this, args)
        s.calls++
        if (Array.isArray(args[0])) s.keys += args[0].length
        const t0 = now()
        const out = original.apply(this, args) as Promise<unknown>
        return Promise.resolve(out).finally(() => { s.ms += now() - t0 })
      }
    }
  }
  return stats
}

async function breakdownOf (what: string, want: CID, a: PeerA, b: FramehubNode, profileDir: string | null, scratch: string): Promise<SyncBreakdown> {
  const network = b.network
  if (network == null) throw new Error('node B has no network')
  log(`breakdown ${what}: server work on A alone`)
  const server = await a.call<SyncBreakdown['server']>('walk', { want: want.toString(), have: [] }, 10 * 60_000)

  log(`breakdown ${what}: B fetches the answer without importing it`)
  const profiles: NonNullable<SyncBreakdown['profiles']> = {}
  const aFile = profileDir != null ? join(profileDir, `sync-${what}-A-serve.cpuprofile`) : null
  if (aFile != null) await a.call('profile-start', { intervalUs: 500 })
  const stopB = profileDir != null ? await startProfile() : null
  const t0 = now()
  const { car } = await network.fetch(want, [], { from: [a.peerId] })
  const chunks: Uint8Array[] = []
  let firstChunkMs = -1
  let carBytes = 0
  for await (const chunk of car) {
    if (firstChunkMs < 0) firstChunkMs = now() - t0
    chunks.push(chunk)
    carBytes += chunk.byteLength
  }
  const fetchMs = now() - t0
  if (stopB != null && profileDir != null) {
    const file = join(profileDir, `sync-${what}-B-fetch.cpuprofile`)
    const p = await stopB()
    await writeFile(file, JSON.stringify(p))
    profiles.clientFetch = summarizeProfile(p, file)
  }
  if (aFile != null) {
    await a.call('profile-stop', { path: aFile })
    profiles.serverWhileFetch = summarizeProfile(JSON.parse(await readFile(aFile, 'utf8')) as CpuProfile, aFile)
  }

  log(`breakdown ${what}: importCar of the buffered answer into a fresh repository`)
  const c = await createNode({ repo: join(scratch, `import-${what}`), create: true })
  try {
    const level = instrumentLevel(c)
    const stopC = profileDir != null ? await startProfile() : null
    const t1 = now()
    const stats = await c.snapshots.importCar((async function * () { yield * chunks })(), { root: want, partial: true })
    const importMs = now() - t1
    if (stopC != null && profileDir != null) {
      const file = join(profileDir, `sync-${what}-B-import.cpuprofile`)
      const p = await stopC()
      await writeFile(file, JSON.stringify(p))
      profiles.import = summarizeProfile(p, file)
    }
    for (const s of Object.values(level)) s.ms = round(s.ms)
    for (const k of Object.keys(level)) if (level[k]?.calls === 0) delete level[k]
    return {
      server: { blocks: server.blocks, carBytes: server.carBytes, walkMs: server.walkMs, walkCarMs: server.walkCarMs, reads: server.reads },
      fetch: { firstChunkMs: round(firstChunkMs), ms: round(fetchMs), carBytes, chunks: chunks.length },
      import: { ms: round(importMs), blocks: stats.blocks, level },
      ...(profileDir != null ? { profiles } : {})
    }
  } finally {
    chunks.length = 0
    await c.close()
  }
}

// -------------------------------------------------------------------------------------------
// The benchmark

interface FramehubPart {
  setup: SyncReport['setup']
  chain: SyncReport['chain']
  commit: SyncReport['commit']
  live: SyncReport['live']
  breakdown: SyncReport['breakdown']
}

async function framehubPart (sc: SyncBenchConfig): Promise<FramehubPart> {
  const dir = await tempDir('sync')
  if (sc.profileDir != null) await mkdir(sc.profileDir, { recursive: true })
  log('sync: starting node A (child process)')
  const a = await PeerA.start(join(dir, 'a'))
  let b: FramehubNode | undefined
  try {
    const session = 'bench/sync-chain'
    const imported = await a.call<{ commit: string, importMs: number, commitMs: number, sessions: number }>('import', { frames: sc.frames, frameBytes: sc.frameBytes, seed: sc.seed }, 30 * 60_000)
    if (imported.sessions !== 0) throw new Error('the import commit names sessions')
    const chain = await a.call<{ head: string, warmup: string, ms: number, stepsPerSecond: number }>('chain', { steps: sc.steps, seed: sc.seed + 2, session }, 30 * 60_000)

    log('sync: starting node B (this process) and connecting it to A')
    const addr = a.addrs.find(x => x.includes('/tcp/') && !x.includes('/ws')) ?? a.addrs[0]
    if (addr == null) throw new Error('node A has no address')
    b = await createNode({ repo: join(dir, 'b'), create: true, network: { listen: ['/ip4/127.0.0.1/tcp/0'], network: 'bench-sync', bootstrap: [addr] } })
    const events = new EventLog(b)
    const tc = now()
    await b.network?.connect(addr)
    const connectMs = now() - tc
    const clock = await clockOffset(a)
    log(`sync: clock offset A−B ${clock.offset} ms (± ${clock.uncertainty} ms)`)
    // Warm-up: one small sync opens the protocol stream once (not timed), as the anchors do.
    await b.replication?.sync(CID.parse(chain.warmup), { from: [a.peerId] })

    const profileSyncs = sc.profileDir != null && process.env.BENCH_SYNC_PROFILE_SYNCS === '1' ? { a, dir: sc.profileDir } : undefined
    const chainSync = await measureSync(b, CID.parse(chain.head), a.peerId, 'chain', profileSyncs)
    const commitSync = await measureSync(b, CID.parse(imported.commit), a.peerId, 'commit', profileSyncs)

    const breakdown = sc.breakdown
      ? {
          chain: await breakdownOf('chain', CID.parse(chain.head), a, b, sc.profileDir, dir),
          commit: await breakdownOf('commit', CID.parse(imported.commit), a, b, sc.profileDir, dir)
        }
      : null

    // Live: shared/main on A, followed by B.
    log('sync live: A creates and publishes shared/main (first publish: full check), B follows')
    const ts = epochNow()
    const setup = await a.call<{ head: string, publishMs: number }>('live-setup', {}, 15 * 60_000)
    const seenSetup = await events.wait('B has shared/main', refMovedTo('shared/main', setup.head), 10 * 60_000)
    // B re-publishes what it fast-forwarded (a full check the first time): let it finish.
    await events.wait('B re-publishes shared/main', publishedHead(setup.head), 10 * 60_000).catch((err: unknown) => { log(`sync live: ${(err as Error).message}`) })
    const setupVisibleOnBMs = seenSetup - ts
    log(`sync live: B follows shared/main after ${round(setupVisibleOnBMs)} ms`)

    let indexCatchUp: SyncReport['live']['indexCatchUp']
    if (sc.indexCatchUp) {
      log('sync live: both nodes catch up their frame index of shared/main (BENCH_SYNC_INDEX_CATCHUP=1)')
      const onA = await a.call<{ mode: string, frames: number, ms: number }>('index-catch-up', { branch: 'shared/main' }, 15 * 60_000)
      const t = now()
      const onB = await b.index.catchUp('shared/main')
      indexCatchUp = { a: { mode: onA.mode, frames: onA.frames, ms: onA.ms }, b: { mode: onB.mode, frames: onB.frames, ms: round(now() - t) } }
    }
    const liveA = sc.profileDir != null ? join(sc.profileDir, 'sync-live-A.cpuprofile') : null
    if (liveA != null) await a.call('profile-start', { intervalUs: 500 })
    const stopLiveB = sc.profileDir != null ? await startProfile() : null
    const rounds: LiveRound[] = []
    for (let i = 0; i < sc.liveRounds; i++) {
      const frame = (i * 7919 + 13) % sc.frames
      const ans = await a.call<{ commit: string, branch: string, returnedAt: number, commitMs: number, publishedAt: number | null }>('live-commit', { i, frame, frameBytes: sc.frameBytes, seed: sc.seed }, 60_000)
      if (ans.branch !== 'shared/main') throw new Error(`live commit went to ${ans.branch}`)
      const seenAt = await events.wait(`B sees live commit ${i}`, refMovedTo('shared/main', ans.commit), 60_000)
      const returnedAt = ans.returnedAt - clock.offset
      const publishedAt = ans.publishedAt == null ? null : ans.publishedAt - clock.offset
      const done = events.find(syncDoneOf(ans.commit))
      const syncMs = done == null ? null : Number(done.detail.ms)
      const syncStart = done == null || syncMs == null ? null : done.at - syncMs
      const r: LiveRound = {
        commit: ans.commit,
        visibleMs: round(seenAt - returnedAt, 2),
        publishMs: publishedAt == null ? null : round(publishedAt - returnedAt, 2),
        fastForwardMs: done == null ? null : round(seenAt - done.at, 2),
        syncMs,
        syncBlocksChecked: done == null ? null : Number(done.detail.blocks),
        syncBytes: done == null ? null : Number(done.detail.bytes),
        propagationMs: syncStart == null || publishedAt == null ? null : round(syncStart - publishedAt, 2),
        commitMs: ans.commitMs
      }
      rounds.push(r)
      log(`sync live ${i + 1}/${sc.liveRounds}: visible on B ${r.visibleMs} ms after A's commit (publish ${r.publishMs}, propagation ${r.propagationMs}, sync ${r.syncMs} [${r.syncBytes} B], fast-forward ${r.fastForwardMs})`)
      // B re-publishes the head it fast-forwarded to; A hears of it. Let that settle first.
      await events.wait('B re-publishes', publishedHead(ans.commit), 10_000).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    let liveProfiles: SyncReport['live']['profiles']
    if (stopLiveB != null && liveA != null && sc.profileDir != null) {
      const fileB = join(sc.profileDir, 'sync-live-B.cpuprofile')
      const p = await stopLiveB()
      await writeFile(fileB, JSON.stringify(p))
      await a.call('profile-stop', { path: liveA })
      liveProfiles = { a: summarizeProfile(JSON.parse(await readFile(liveA, 'utf8')) as CpuProfile, liveA), b: summarizeProfile(p, fileB) }
    }
    const visible = rounds.map(r => r.visibleMs)
    return {
      setup: {
        topology: 'node A: framehub node in a child process (scripts/bench/sync-peer.ts); node B: framehub node in the bench process; loopback TCP, noise, yamux',
        chainBuildMs: chain.ms,
        chainBuildStepsPerSecond: chain.stepsPerSecond,
        importMs: imported.importMs,
        importCommitMs: imported.commitMs,
        connectMs: round(connectMs),
        clockOffsetMs: clock.offset,
        clockUncertaintyMs: clock.uncertainty
      },
      chain: { steps: sc.steps, ...chainSync },
      commit: { frames: sc.frames, ...commitSync },
      live: {
        rounds,
        p50Ms: round(median(visible), 2),
        maxMs: round(Math.max(...visible), 2),
        minMs: round(Math.min(...visible), 2),
        medianPublishMs: medianOrNull(rounds.map(r => r.publishMs)),
        medianPropagationMs: medianOrNull(rounds.map(r => r.propagationMs)),
        medianSyncMs: medianOrNull(rounds.map(r => r.syncMs)),
        medianFastForwardMs: medianOrNull(rounds.map(r => r.fastForwardMs)),
        setupPublishMs: setup.publishMs,
        setupVisibleOnBMs: round(setupVisibleOnBMs),
        ...(indexCatchUp != null ? { indexCatchUp } : {}),
        ...(liveProfiles != null ? { profiles: liveProfiles } : {})
      },
      breakdown
    }
  } finally {
    await b?.close().catch((err: unknown) => { log(`sync: closing B failed: ${String(err)}`) })
    await a.close().catch(() => { a.kill() })
  }
}

async function anchor<T> (name: string, fn: () => Promise<T>): Promise<({ ok: true } & T) | { ok: false, error: string }> {
  try {
    return { ok: true, ...await fn() }
  } catch (err) {
    log(`sync anchor ${name} failed: ${(err as Error).message}`)
    return { ok: false, error: (err as Error).message }
  }
}

export async function benchSync (cfg: BenchConfig): Promise<SyncReport> {
  const sc = syncConfig(cfg)
  log(`sync: ${JSON.stringify(sc)}`)
  const fh = await framehubPart(sc)
  const opts = { processes: sc.anchorProcesses }
  const chainLength = sc.steps
  log(`sync anchors: bitswap-walk ${sc.walkBlocks}, bitswap-known ${sc.knownBlocks}, orbitdb-replicate ${sc.orbitEntries}`)
  const skipped = { ok: false as const, error: 'skipped (BENCH_SYNC_ANCHORS=0)' }
  const walk: SyncReport['anchors']['bitswapWalk'] = !sc.anchors
    ? skipped
    : await anchor('bitswap-walk', async () => {
      const r = await runSyncAnchor('bitswap-walk', sc.walkBlocks, sc.seed, opts) as BitswapWalkResult
      return { ...r, extrapolatedSecondsForChain: round(chainLength / Math.max(1e-9, r.blocks / (r.ms / 1000)), 1) }
    })
  const known: SyncReport['anchors']['bitswapKnown'] = !sc.anchors
    ? skipped
    : await anchor('bitswap-known', async () => {
      const r = await runSyncAnchor('bitswap-known', sc.knownBlocks, sc.seed, opts) as BitswapKnownResult
      if (r.concurrency !== KNOWN_CONCURRENCY) throw new Error('unexpected concurrency')
      return { ...r, extrapolatedSecondsForChain: round(chainLength / Math.max(1e-9, r.blocks / (r.ms / 1000)), 1) }
    })
  const orbitRun = async (): Promise<SyncReport['anchors']['orbitdbReplicate']> => await anchor('orbitdb-replicate', async () => {
    const r = await runSyncAnchor('orbitdb-replicate', sc.orbitEntries, sc.seed, opts) as OrbitReplicateResult
    return { ...r, extrapolatedSecondsForChain: round(chainLength / Math.max(1e-9, r.entries / (r.ms / 1000)), 1) }
  })
  const orbit: SyncReport['anchors']['orbitdbReplicate'] = !sc.anchors
    ? skipped
    : !sc.orbitdb ? { ok: false, error: 'skipped (BENCH_ORBITDB=0)' } : await orbitRun()

  // Rates from unrounded times: framehub's chain blocks/s against each anchor's blocks (entries)/s.
  const chainRate = fh.chain.blocks / (fh.chain.ms / 1000)
  const ratio = (other: number | null): number | null => other == null || other <= 0 ? null : round(chainRate / other, 1)
  const chainVsBitswapWalk = ratio(walk.ok ? walk.blocks / (walk.ms / 1000) : null)
  const chainVsBitswapKnown = ratio(known.ok ? known.blocks / (known.ms / 1000) : null)
  const chainVsOrbitdb = ratio(orbit.ok ? orbit.entries / (orbit.ms / 1000) : null)
  const goals = syncGoals({
    chainVsWalk: chainVsBitswapWalk ?? { missing: walk.ok ? 'bitswap-walk measured no blocks' : `anchor bitswap-walk: ${walk.error}` },
    chainVsKnown: chainVsBitswapKnown ?? { missing: known.ok ? 'bitswap-known measured no blocks' : `anchor bitswap-known: ${known.error}` },
    chainMs: fh.chain.ms,
    commitMs: fh.commit.ms,
    liveP50Ms: fh.live.rounds.length > 0 ? fh.live.p50Ms : null,
    liveMaxMs: fh.live.rounds.length > 0 ? fh.live.maxMs : null
  })
  return {
    config: sc,
    setup: fh.setup,
    chain: fh.chain,
    commit: fh.commit,
    live: fh.live,
    breakdown: fh.breakdown,
    anchors: { bitswapWalk: walk, bitswapKnown: known, orbitdbReplicate: orbit },
    ratios: { chainVsBitswapWalk, chainVsBitswapKnown, chainVsOrbitdb },
    goals
  }
}

if (isMain(import.meta.url)) {
  const watchdog = setTimeout(() => {
    log('sync: timed out, giving up')
    void cleanupAll().finally(() => process.exit(2))
  }, Number(process.env.BENCH_TIMEOUT_MIN ?? 60) * 60_000)
  watchdog.unref()
  let code = 0
  try {
    const report = await benchSync(benchConfig())
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  } catch (err) {
    log(`sync failed: ${(err as Error).stack ?? String(err)}`)
    code = 1
  } finally {
    await cleanupAll()
  }
  // libp2p timers must not keep the process alive once the numbers are out.
  process.exit(code)
}
