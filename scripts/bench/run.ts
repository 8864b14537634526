/**
 * `npm run bench`: framehub's performance beside its anchors, measured in the same run on the
 * same data. Prints one JSON document on stdout; progress goes to stderr.
 *
 *   BENCH_FRAMES (100000)  BENCH_STEPS (5000)  BENCH_ORBIT_STEPS (1000)  BENCH_DIFF_FRAMES (10)
 *   BENCH_FRAME_BYTES (500)  BENCH_RAW_BATCH (8192)  BENCH_SEED (42)  BENCH_REPEAT (3: frame-import rounds)
 *   BENCH_ORBITDB=0 (skip OrbitDB)  BENCH_TIMEOUT_MIN (60)
 *   BENCH_GATEWAY=0 (skip the HTTP load tests)  BENCH_GATEWAY_SECONDS (10)  BENCH_SOAK_SECONDS (60)
 *   BENCH_GATEWAY_CONNECTIONS (50)  BENCH_GATEWAY_WARMUP (2)  BENCH_GATEWAY_PROFILE=1 (+ CPU profiles)
 *   BENCH_QUICK=1: tiny sizes, for a smoke test.
 */
import { execFileSync } from 'node:child_process'
import { arch, cpus, loadavg, platform, totalmem } from 'node:os'
import { benchCommitDiff } from './commit-diff.ts'
import { runChild } from './child.ts'
import { benchConfig, cleanupAll, log, mb, now, round, tempDir } from './common.ts'
import { benchFrameImport } from './frame-import.ts'
import type { GatewayReport } from './gateway.ts'
import type { SnapshotReport } from './snapshot.ts'
import { benchTraceAppend } from './trace-append.ts'

const cfg = benchConfig()
const started = now()
const loadBefore = loadavg().map(l => round(l, 2))

/** The commit measured, and how many files differed from it (others may be editing the tree). */
function gitState (): { head: string, changedFiles: number } | null {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const changed = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).split('\n').filter(l => l.trim() !== '').length
    return { head, changedFiles: changed }
  } catch {
    return null
  }
}
const cleanupOnSignal = (signal: NodeJS.Signals): void => {
  void cleanupAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
}
process.once('SIGINT', cleanupOnSignal)
// Ends by itself even if something hangs: give up after BENCH_TIMEOUT_MIN minutes (default 60).
const watchdog = setTimeout(() => {
  log('timed out: giving up')
  void cleanupAll().finally(() => process.exit(2))
}, Number(process.env.BENCH_TIMEOUT_MIN ?? 60) * 60_000)
watchdog.unref()
process.once('SIGTERM', cleanupOnSignal)

try {
  log(`config ${JSON.stringify(cfg)}`)
  const frameImport = await benchFrameImport(cfg)
  const commitDiff = await benchCommitDiff(cfg, frameImport.handoff)
  const repoDir = frameImport.handoff.repoDir
  const root = frameImport.handoff.commit
  frameImport.handoff.lines.length = 0
  await commitDiff.node.close()

  const snapshot = await runChild<SnapshotReport>('./snapshot.ts', [repoDir, root.toString(), await tempDir('snapshot')], 30 * 60_000)
  // The HTTP gateway under load, on the same repository; its servers run in their own processes.
  const gateway = process.env.BENCH_GATEWAY === '0' ? null : await runChild<GatewayReport>('./gateway.ts', [repoDir], 30 * 60_000)
  const traceAppend = await benchTraceAppend(cfg)

  const report = {
    benchmark: 'framehub',
    date: new Date().toISOString(),
    environment: {
      node: process.version,
      platform: `${platform()} ${arch()}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGB: round(totalmem() / 2 ** 30, 1),
      tmp: process.env.TMPDIR ?? '/tmp',
      /** 1/5/15-minute load averages before and after: other processes on the machine skew wall times. */
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg().map(l => round(l, 2)),
      git: gitState()
    },
    config: cfg,
    frameImport: frameImport.report,
    traceAppend,
    commitDiff: {
      commit: { frames: cfg.frames, commitMs: frameImport.report.framehub.commitMs, treeBuildMs: frameImport.report.breakdownMs.buildTree, importIncludingTreeMs: frameImport.report.framehub.importMs },
      ...commitDiff.report
    },
    snapshot,
    gateway,
    goals: {
      frameImport: frameImport.report.goal.met,
      traceAppend: traceAppend.goal.met,
      diff: commitDiff.report.goal.met,
      gateway: gateway?.goal.met ?? null
    },
    totalSeconds: 0
  }
  report.totalSeconds = round((now() - started) / 1000, 1)
  process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  log(`done in ${report.totalSeconds} s (rss ${mb(process.memoryUsage().rss)} MB)`)
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
} finally {
  await cleanupAll()
}
