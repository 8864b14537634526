/**
 * CLI start-up: how long `framehub --help` and `framehub frame get ID` take from a cold process on
 * a warm page cache, and how much memory they peak at. Prints one JSON object on stdout.
 *
 * Goals (issue #10): `--help` <= 300 ms and `frame get` <= 500 ms (median wall time), judged on
 * `bin/framehub.js` run by the project's Node 24 (what `npx framehub` runs on Node >= 22.18; it
 * switches the compile cache on before the first TypeScript file). Also measured: `node
 * src/cli/main.ts` (the type stripper starts for main.ts itself), and bin/framehub.js on a system
 * Node older than 22.18 when there is one (it re-runs itself in Node 24: two process start-ups).
 *
 * Timing uses hyperfine when installed (`--export-json`, warm-up runs first), else spawns the
 * command itself; peak RSS comes from GNU time (`/usr/bin/time -f %M`) when installed, else null.
 * Also measured, not judged: `framehub daemon` from its start to its first `/health` answer.
 *   BENCH_CLI_RUNS (10)  BENCH_CLI_WARMUP (2)  BENCH_DAEMON_RUNS (3)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { olderNode } from '../older-node.ts'
import { isMain, log, round } from './common.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MAIN = join(ROOT, 'src', 'cli', 'main.ts')
const BIN = join(ROOT, 'bin', 'framehub.js')
export const CLI_GOALS_MS = { help: 300, frameGet: 500 } as const

export interface Timing {
  command: string
  runs: number
  meanMs: number
  medianMs: number
  minMs: number
  maxMs: number
  /** CPU time of the process tree, per run (hyperfine only). */
  userMs: number | null
  systemMs: number | null
  /** Largest peak RSS of three runs, MB (GNU time only). */
  peakRssMB: number | null
}

export interface CliStartupReport {
  tool: 'hyperfine' | 'spawn'
  node: string
  /** The system Node older than 22.18 measured through bin/framehub.js, if any. */
  olderNode: string | null
  help: { bin: Timing, direct: Timing, binOnOlderNode: Timing | null }
  frameGet: { bin: Timing, direct: Timing, binOnOlderNode: Timing | null }
  /**
   * Judged on median wall time. `helpCpuMs`/`frameGetCpuMs` (user + system, hyperfine only) say
   * what the command itself costs when other processes share the cores (see `loadAverage`).
   */
  goal: { helpMs: number, frameGetMs: number, helpMet: boolean, frameGetMet: boolean, met: boolean, reason: string, helpCpuMs: number | null, frameGetCpuMs: number | null }
  /**
   * `framehub daemon` (bin/framehub.js, network on loopback) on an existing repository: from the
   * process start to its first `/health` answer, BENCH_DAEMON_RUNS runs (default 3). Not judged.
   */
  daemon: { runs: number, medianMs: number, minMs: number, maxMs: number } | null
  /** 1-minute load average before and after: on a busy machine wall time is mostly waiting. */
  loadAverage: { before: number, after: number }
}

function has (tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function peakRss (argv: string[], env: NodeJS.ProcessEnv): number | null {
  if (!existsSync('/usr/bin/time')) return null
  let peak = 0
  for (let i = 0; i < 3; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
    const kb = Number(r.stderr.trim().split('\n').pop())
    if (Number.isFinite(kb)) peak = Math.max(peak, kb)
  }
  return peak > 0 ? round(peak / 1024, 1) : null
}

/** Times each command line (argv arrays, run without a shell). Non-zero exits are allowed. */
function time (commands: string[][], env: NodeJS.ProcessEnv, runs: number, warmup: number, hyperfine: boolean): Timing[] {
  if (hyperfine) {
    const out = join(tmpdir(), `framehub-cli-startup-${process.pid}.json`)
    execFileSync('hyperfine', ['-N', '-i', '--style', 'none', '-w', String(warmup), '-r', String(runs), '--export-json', out, ...commands.map(c => c.join(' '))], { env, stdio: ['ignore', 'ignore', 'inherit'] })
    const results = (JSON.parse(readFileSync(out, 'utf8')) as { results: Array<{ command: string, mean: number, median: number, min: number, max: number, user: number, system: number }> }).results
    rmSync(out, { force: true })
    return results.map((r, i) => ({
      command: r.command,
      runs,
      meanMs: round(r.mean * 1000),
      medianMs: round(r.median * 1000),
      minMs: round(r.min * 1000),
      maxMs: round(r.max * 1000),
      userMs: round(r.user * 1000),
      systemMs: round(r.system * 1000),
      peakRssMB: peakRss(commands[i] as string[], env)
    }))
  }
  return commands.map(argv => {
    const [cmd, ...args] = argv as [string, ...string[]]
    const ms: number[] = []
    for (let i = 0; i < warmup + runs; i++) {
      const t = performance.now()
      spawnSync(cmd, args, { env, stdio: 'ignore' })
      if (i >= warmup) ms.push(performance.now() - t)
    }
    return {
      command: argv.join(' '),
      runs,
      meanMs: round(ms.reduce((a, b) => a + b, 0) / ms.length),
      medianMs: round(median(ms)),
      minMs: round(Math.min(...ms)),
      maxMs: round(Math.max(...ms)),
      userMs: null,
      systemMs: null,
      peakRssMB: peakRss(argv, env)
    }
  })
}

/** ms from starting `framehub daemon` on the repository of `env` to its first `/health` answer. */
async function daemonToFirstAnswer (env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, [BIN, 'daemon', '--api', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  try {
    let out = ''
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`the daemon did not listen within 60 s: ${out.slice(-500)}`)) }, 60_000)
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
        if (m != null) { clearTimeout(timer); resolve(m[1] as string) }
      })
      child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the daemon exited (${String(code)}): ${out.slice(-500)}`)) })
    })
    for (;;) {
      const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) }).then(r => r.ok, () => false)
      if (ok) return performance.now() - started
      if (performance.now() - started > 60_000) throw new Error('the daemon did not answer /health within 60 s')
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

const cpu = (t: Timing): number | null => t.userMs != null && t.systemMs != null ? round(t.userMs + t.systemMs) : null

export async function benchCliStartup (): Promise<CliStartupReport> {
  const runs = Number(process.env.BENCH_CLI_RUNS ?? 10)
  const warmup = Number(process.env.BENCH_CLI_WARMUP ?? 2)
  const hyperfine = has('hyperfine')
  const loadBefore = round(loadavg()[0] as number, 2)
  const older = olderNode() ?? null
  const dir = await mkdtemp(join(tmpdir(), 'framehub-cli-startup-'))
  try {
    const repo = join(dir, 'repo')
    const env = { ...process.env, CI: 'true', FRAMEHUB_REPO: repo }
    // A repository with one frame to read (no daemon: the command opens the repository itself).
    execFileSync(process.execPath, [MAIN, 'init'], { env, stdio: 'ignore' })
    execFileSync(process.execPath, [MAIN, 'frame', 'put', '-'], { env, input: JSON.stringify({ id: 'bench/hello', kind: 'fact', title: 'hello' }), stdio: ['pipe', 'ignore', 'inherit'] })
    const variants = (args: string[]): string[][] => [
      [process.execPath, BIN, ...args],
      [process.execPath, MAIN, ...args],
      ...(older != null ? [[older, BIN, ...args]] : [])
    ]
    log(`cli start-up: ${hyperfine ? 'hyperfine' : 'spawn timing'}, ${runs} runs after ${warmup} warm-up${older != null ? `, also bin/framehub.js on ${older}` : ''}`)
    const help = time(variants(['--help']), env, runs, warmup, hyperfine)
    const get = time(variants(['frame', 'get', 'bench/hello']), env, runs, warmup, hyperfine)
    const check = spawnSync(process.execPath, [MAIN, 'frame', 'get', 'bench/hello', '--json'], { env, encoding: 'utf8' })
    if (check.status !== 0) throw new Error(`frame get failed: ${check.stderr}`)
    const daemonRuns = Number(process.env.BENCH_DAEMON_RUNS ?? 3)
    const daemonMs: number[] = []
    for (let i = 0; i < daemonRuns; i++) daemonMs.push(await daemonToFirstAnswer(env))
    log(`cli start-up: framehub daemon answers after ${daemonMs.map(ms => round(ms)).join(', ')} ms`)
    const helpMs = (help[0] as Timing).medianMs
    const frameGetMs = (get[0] as Timing).medianMs
    const helpMet = helpMs <= CLI_GOALS_MS.help
    const frameGetMet = frameGetMs <= CLI_GOALS_MS.frameGet
    const reason = [
      helpMet ? null : `--help median ${helpMs} ms > ${CLI_GOALS_MS.help} ms`,
      frameGetMet ? null : `frame get median ${frameGetMs} ms > ${CLI_GOALS_MS.frameGet} ms`
    ].filter(r => r != null).join('; ')
    return {
      tool: hyperfine ? 'hyperfine' : 'spawn',
      node: process.version,
      olderNode: older,
      help: { bin: help[0] as Timing, direct: help[1] as Timing, binOnOlderNode: help[2] ?? null },
      frameGet: { bin: get[0] as Timing, direct: get[1] as Timing, binOnOlderNode: get[2] ?? null },
      goal: { helpMs, frameGetMs, helpMet, frameGetMet, met: helpMet && frameGetMet, reason, helpCpuMs: cpu(help[0] as Timing), frameGetCpuMs: cpu(get[0] as Timing) },
      daemon: daemonMs.length > 0 ? { runs: daemonMs.length, medianMs: round(median(daemonMs)), minMs: round(Math.min(...daemonMs)), maxMs: round(Math.max(...daemonMs)) } : null,
      loadAverage: { before: loadBefore, after: round(loadavg()[0] as number, 2) }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) {
  process.stdout.write(JSON.stringify(await benchCliStartup()) + '\n')
}
