/**
 * Shared helpers of the benchmarks: sizes from the environment, a seeded data generator, temp
 * dirs, timers, an RSS sampler and a counting block reader. Progress goes to stderr; stdout is
 * kept for the one JSON document that `run.ts` prints.
 */
import { spawn } from 'node:child_process'
import type { SpawnOptions } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import type { CID } from 'multiformats/cid'
import type { BlockReader } from '../../src/core/tree/index.ts'

export interface BenchConfig {
  quick: boolean
  /** Frames imported (default 100,000). */
  frames: number
  /** Trace steps appended by framehub (default 5,000). */
  steps: number
  /** Entries added to OrbitDB (default 1,000: it runs at a few hundred per second). */
  orbitSteps: number
  /** Frames that differ between the two diffed trees (default 10). */
  diffFrames: number
  /** Rows per LevelDB batch of the raw anchor (default 8,192, as framehub's import). */
  rawBatch: number
  /** Approximate JSON size of a frame in bytes (default 500). */
  frameBytes: number
  seed: number
  /** Interleaved rounds of the frame-import benchmark and its anchors (median reported). */
  repeat: number
  /** Skip the OrbitDB anchor (`BENCH_ORBITDB=0`). */
  orbitdb: boolean
}

function intEnv (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw == null || raw === '') return fallback
  const n = Number(raw.replaceAll('_', ''))
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`)
  return n
}

export function benchConfig (): BenchConfig {
  const quick = process.env.BENCH_QUICK === '1'
  return {
    quick,
    frames: intEnv('BENCH_FRAMES', quick ? 2_000 : 100_000),
    steps: intEnv('BENCH_STEPS', quick ? 200 : 5_000),
    orbitSteps: intEnv('BENCH_ORBIT_STEPS', quick ? 50 : 1_000),
    diffFrames: intEnv('BENCH_DIFF_FRAMES', 10),
    rawBatch: Math.max(1, intEnv('BENCH_RAW_BATCH', 8_192)),
    frameBytes: intEnv('BENCH_FRAME_BYTES', 500),
    seed: intEnv('BENCH_SEED', 42),
    repeat: Math.max(1, intEnv('BENCH_REPEAT', quick ? 1 : 3)),
    orbitdb: process.env.BENCH_ORBITDB !== '0'
  }
}

export function log (message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

export const now = (): number => performance.now()

export const round = (n: number, digits = 1): number => {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** CPU time (user + system, all threads of the process) spent since `since`, in ms. */
export function cpuMs (since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since)
  return Math.round((d.user + d.system) / 1000)
}

/**
 * CPU time of the calling thread only (user + system) since `since`, in ms: the time the work holds
 * the event loop, without the V8 helper threads (parallel GC, compilation) that run beside it.
 */
export function threadCpuMs (since: NodeJS.CpuUsage): number {
  const d = process.threadCpuUsage(since)
  return Math.round((d.user + d.system) / 1000)
}

/** Items per second, rounded to the unit. */
export const perSecond = (count: number, ms: number): number => ms > 0 ? Math.round(count / (ms / 1000)) : 0

export const mb = (bytes: number): number => round(bytes / 1e6, 2)

/** mulberry32: a small, fast, seeded PRNG (same seed → same frames on every machine). */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ('alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau ' +
  'upsilon phi chi psi omega gravity orbit mass energy field wave particle entropy signal memory agent frame trace ' +
  'graph merkle block commit branch proof claim source evidence observation plan note fact model').split(' ')
const KINDS = ['fact', 'note', 'observation', 'plan', 'claim']
const TAGS = ['physics', 'math', 'biology', 'history', 'code', 'agents', 'ipfs', 'draft', 'verified', 'todo', 'ml', 'data']

function pick<T> (rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)] as T
}

function words (rand: () => number, bytes: number): string {
  let out = ''
  while (out.length < bytes) out += (out === '' ? '' : ' ') + pick(rand, WORDS)
  return out.slice(0, bytes)
}

export interface FrameJson {
  id: string
  kind: string
  title: string
  body: string
  tags: string[]
}

/** Id of frame `i`: three '/' segments, spread over 100 x 100 prefixes like a real corpus. */
export function frameId (i: number): string {
  return `topic-${i % 100}/sub-${Math.floor(i / 100) % 100}/frame-${i.toString(36).padStart(5, '0')}`
}

/**
 * The frames of a benchmark: `count` frames of about `bytes` bytes of JSON each, from `seed`.
 * `variant` changes the body (used to make a second version of some frames).
 */
export function makeFrame (rand: () => number, i: number, bytes: number, variant = 0): FrameJson {
  const id = frameId(i)
  const title = words(rand, 40 + Math.floor(rand() * 30))
  const tags = [pick(rand, TAGS), pick(rand, TAGS), pick(rand, TAGS)]
  const kind = pick(rand, KINDS)
  const skeleton = JSON.stringify({ id, kind, title, body: '', tags })
  const body = (variant > 0 ? `v${variant} ` : '') + words(rand, Math.max(16, bytes - skeleton.length))
  return { id, kind, title, body, tags }
}

export function generateFrameLines (count: number, bytes: number, seed: number): string[] {
  const rand = prng(seed)
  const lines: string[] = new Array<string>(count)
  for (let i = 0; i < count; i++) lines[i] = JSON.stringify(makeFrame(rand, i, bytes))
  return lines
}

/** A temp dir; `cleanupAll` removes every one made (run.ts calls it at the end, also on failure). */
const made: string[] = []
export async function tempDir (name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `framehub-bench-${name}-`))
  made.push(dir)
  return dir
}

export async function cleanupAll (): Promise<void> {
  for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Samples `process.memoryUsage().rss` every `everyMs` while running `fn`; reports baseline and peak. */
export interface MemoryReport {
  baselineRssMB: number
  peakRssMB: number
  /** peak - baseline. */
  growthMB: number
  /** V8 heap in use before and at its sampled peak (RSS also holds LevelDB caches and free heap pages). */
  baselineHeapMB: number
  peakHeapMB: number
  samples: number
}

export async function withRss<T> (fn: () => Promise<T>, everyMs = 50): Promise<{ result: T, memory: MemoryReport }> {
  const start = process.memoryUsage()
  const baseline = start.rss
  let peak = baseline
  let peakHeap = start.heapUsed
  let samples = 0
  const sample = (): void => {
    const { rss, heapUsed } = process.memoryUsage()
    samples++
    if (rss > peak) peak = rss
    if (heapUsed > peakHeap) peakHeap = heapUsed
  }
  const timer = setInterval(sample, everyMs)
  try {
    const result = await fn()
    sample()
    return {
      result,
      memory: { baselineRssMB: mb(baseline), peakRssMB: mb(peak), growthMB: mb(peak - baseline), baselineHeapMB: mb(start.heapUsed), peakHeapMB: mb(peakHeap), samples }
    }
  } finally {
    clearInterval(timer)
  }
}

/** A BlockReader that counts the blocks it is asked for. */
export function countingReader (inner: BlockReader): BlockReader & { reads: number, bytes: number, reset: () => void } {
  const counter = {
    reads: 0,
    bytes: 0,
    reset () { counter.reads = 0; counter.bytes = 0 },
    async get (cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array> {
      counter.reads++
      const bytes = await inner.get(cid, options)
      counter.bytes += bytes.byteLength
      return bytes
    }
  }
  return counter
}

/** Runs the garbage collector if it can be reached (exposes it on demand), so baselines are fair. */
export async function collectGarbage (): Promise<void> {
  const { setFlagsFromString } = await import('node:v8')
  const { runInNewContext } = await import('node:vm')
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as (() => void) | undefined
  gc?.()
  await new Promise(resolve => setTimeout(resolve, 20))
  gc?.()
}

/** The JSON input of trace step `i` (about 200 bytes of content); OrbitDB gets the same objects. */
export function makeStep (rand: () => number, i: number): { op: string, content: { text: string, i: number } } {
  const ops = ['thought', 'action', 'observation', 'conclusion']
  return { op: pick(rand, ops), content: { text: words(rand, 180 + Math.floor(rand() * 40)), i } }
}

/** True when `moduleUrl` is the script Node was started with. */
export function isMain (moduleUrl: string): boolean {
  const script = process.argv[1]
  return script != null && fileURLToPath(moduleUrl) === resolve(script)
}

/** Runs a program to its end, collecting what it prints (`started` sees the child first, e.g. to stop it early). */
export async function runProgram (command: string, args: string[], options: SpawnOptions = {}, started?: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null, out: string, err: string }> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  started?.(child)
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { err += c })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (c) => { resolve(c) })
  })
  return { code, out, err }
}
