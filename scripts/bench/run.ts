/**
 * `npm run bench`: framehub's performance beside its anchors, measured in the same run on the
 * same data. Prints one JSON document on stdout; progress goes to stderr.
 *
 *   BENCH_FRAMES (100000)  BENCH_STEPS (5000)  BENCH_ORBIT_STEPS (1000)  BENCH_DIFF_FRAMES (10)
 *   BENCH_FRAME_BYTES (500)  BENCH_RAW_BATCH (8192)  BENCH_SEED (42)  BENCH_REPEAT (3: frame-import rounds)
 *   BENCH_ORBITDB=0 (skip OrbitDB)  BENCH_TIMEOUT_MIN (60)
 *   BENCH_GATEWAY=0 (skip the HTTP load tests)  BENCH_GATEWAY_SECONDS (10)  BENCH_SOAK_SECONDS (60)
 *   BENCH_GATEWAY_CONNECTIONS (50)  BENCH_GATEWAY_WARMUP (2)  BENCH_GATEWAY_PROFILE=1 (+ CPU profiles)
 *   BENCH_GATEWAY_ROUNDS (4)  BENCH_GATEWAY_ROUND_SECONDS (5)  BENCH_WRK_THREADS (1)
 *   BENCH_GATEWAY_LARGE_FRAMES (300000; 0 skips the large repository)  (see gateway.ts)
 *   BENCH_SYNC=0 (skip the two-node sync section)  BENCH_SYNC_STEPS (10000)  BENCH_SYNC_FRAMES (100000)
 *   BENCH_SYNC_LIVE_ROUNDS (10)  BENCH_SYNC_WALK (200)  BENCH_SYNC_KNOWN (2000)  BENCH_SYNC_ORBIT (1000)
 *   BENCH_SYNC_BREAKDOWN=0  BENCH_SYNC_PROFILE=DIR  BENCH_SYNC_ANCHORS=0  (see sync.ts)
 *   BENCH_ONLY=sync,traceAppend,...: run only these sections (frameImport, commitDiff, snapshot,
 *   gateway, traceAppend, sync, cliStartup, fastPaths); commitDiff, snapshot and gateway run on frameImport's repository,
 *   so asking for one of them runs frameImport too. Sections not run are null in the report.
 *   BENCH_QUICK=1: tiny sizes, for a smoke test.
 *   BENCH_CLI=0 (skip CLI start-up)  BENCH_CLI_RUNS (10)  BENCH_CLI_WARMUP (2)  (see cli-startup.ts)
 *   BENCH_FAST_PATHS=0 (skip the fast paths beside their libraries)  BENCH_FAST_PATHS_ROUND_MS (100)
 *   BENCH_FAST_PATHS_ROUNDS (12)  (see fast-paths.ts; in a child process of its own)
 *   BENCH_HISTORY=0 (skip the frame history)  BENCH_HISTORY_FRAMES (BENCH_FRAMES)  BENCH_HISTORY_VERSIONS (100)
 *   (see frame-history.ts; section frameHistory)
 *   BENCH_OTLP=0 (skip OTLP ingest)  BENCH_OTLP_SPANS (20000)  BENCH_OTLP_BATCH (512)  (see otlp-ingest.ts; section otlpIngest)
 *   BENCH_CONSENSUS=0 (skip the consensus rule)  BENCH_CONSENSUS_CANDIDATES (100)  BENCH_CONSENSUS_CHANGES (5)
 *   BENCH_CONSENSUS_ADOPT_CHANGES (1000)  BENCH_CONSENSUS_RUNS (15 warm decisions; the median of all but the first is judged)  (see consensus.ts; section consensus, in memory)
 *   BENCH_HEAL=0 (skip the partition heal of real daemons)  BENCH_HEAL_NODES (5)  BENCH_HEAL_ROUNDS (3)
 *   (see consensus-heal.ts; section consensusHeal: the cut side stopped and restarted; section
 *   consensusHealLan: running daemons cut apart on a LAN of network namespaces, as root)
 *   BENCH_MCP=0 (skip MCP beside REST)  BENCH_MCP_FRAMES (2000)  BENCH_MCP_CALLS (1000)  BENCH_MCP_ROUNDS (4)
 *   BENCH_MCP_WARMUP (200)  (see mcp.ts; section mcp, its gateway in a process of its own)
 *   BENCH_EXPLORER=0 (skip the explorer in headless Chromium)  BENCH_EXPLORER_COMMITS (1000)  BENCH_EXPLORER_STEPS (1000)
 *   BENCH_EXPLORER_ROUNDS (5)  (see explorer.ts; section explorer)
 *   Section names given as arguments run only those too: `npm run bench -- consensus` is BENCH_ONLY=consensus.
 * `goals` says true only for a goal measured and met: a section not run or failed, or a ratio
 * whose anchor failed or was skipped, is false, and `goalsNotMet` says why (scripts/bench/goals.ts).
 */
import { execFileSync } from 'node:child_process'
import { arch, cpus, loadavg, platform, totalmem } from 'node:os'
import { benchCommitDiff } from './commit-diff.ts'
import { benchConsensus } from './consensus.ts'
import { benchConsensusHeal } from './consensus-heal.ts'
import { runChild } from './child.ts'
import { benchConfig, cleanupAll, log, mb, now, round, tempDir } from './common.ts'
import { benchFrameHistory } from './frame-history.ts'
import { benchFrameImport } from './frame-import.ts'
import { reasonLine, summaryGoals } from './goals.ts'
import type { FastPathsReport } from './fast-paths.ts'
import type { GatewayReport } from './gateway.ts'
import type { McpReport } from './mcp.ts'
import type { SnapshotReport } from './snapshot.ts'
import { benchSync } from './sync.ts'
import { benchTraceAppend } from './trace-append.ts'
import { benchOtlpIngest } from './otlp-ingest.ts'
import { benchCliStartup } from './cli-startup.ts'
import { benchExplorer } from './explorer.ts'

const cfg = benchConfig()
const started = now()

const SECTIONS = ['frameImport', 'commitDiff', 'snapshot', 'gateway', 'traceAppend', 'sync', 'cliStartup', 'fastPaths', 'frameHistory', 'otlpIngest', 'consensus', 'consensusHeal', 'consensusHealLan', 'mcp', 'explorer'] as const
type Section = typeof SECTIONS[number]
const only = new Set([...(process.env.BENCH_ONLY ?? '').split(','), ...process.argv.slice(2)].map(s => s.trim()).filter(s => s !== ''))
for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown section "${s}" (known: ${SECTIONS.join(', ')})`)
const skipped: Partial<Record<Section, boolean>> = { gateway: process.env.BENCH_GATEWAY === '0', sync: process.env.BENCH_SYNC === '0', cliStartup: process.env.BENCH_CLI === '0', fastPaths: process.env.BENCH_FAST_PATHS === '0', frameHistory: process.env.BENCH_HISTORY === '0' }
if (process.env.BENCH_OTLP === '0') skipped.otlpIngest = true
if (process.env.BENCH_CONSENSUS === '0') skipped.consensus = true
if (process.env.BENCH_HEAL === '0') { skipped.consensusHeal = true; skipped.consensusHealLan = true }
if (process.env.BENCH_MCP === '0') skipped.mcp = true
if (process.env.BENCH_EXPLORER === '0') skipped.explorer = true
const runs = (section: Section): boolean => (only.size === 0 || only.has(section)) && skipped[section] !== true
// commitDiff, snapshot and gateway work on frameImport's repository.
const needsImport = runs('frameImport') || runs('commitDiff') || runs('snapshot') || runs('gateway')
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
  log(`config ${JSON.stringify(cfg)}${only.size > 0 ? ` only ${[...only].join(',')}` : ''}`)
  const frameImport = needsImport ? await benchFrameImport(cfg) : null
  let commitDiff: Awaited<ReturnType<typeof benchCommitDiff>> | null = null
  let snapshot: SnapshotReport | null = null
  let gateway: GatewayReport | null = null
  if (frameImport != null) {
    const repoDir = frameImport.handoff.repoDir
    const root = frameImport.handoff.commit
    if (runs('commitDiff')) {
      commitDiff = await benchCommitDiff(cfg, frameImport.handoff)
      await commitDiff.node.close()
    } else {
      await frameImport.handoff.node.close()
    }
    frameImport.handoff.lines.length = 0

    if (runs('snapshot')) snapshot = await runChild<SnapshotReport>('./snapshot.ts', [repoDir, root.toString(), await tempDir('snapshot')], 30 * 60_000)
    // The HTTP gateway under load, on the same repository; its servers run in their own processes.
    if (runs('gateway')) gateway = await runChild<GatewayReport>('./gateway.ts', [repoDir], 30 * 60_000)
  }
  const traceAppend = runs('traceAppend') ? await benchTraceAppend(cfg) : null
  // The stock OpenTelemetry exporters into the gateway's OTLP receiver: spans/s into signed steps.
  const otlpIngest = runs('otlpIngest') ? await benchOtlpIngest() : null
  // Two framehub nodes on loopback (node A in a child process) beside the stock anchors.
  const sync = runs('sync') ? await benchSync(cfg) : null
  // `framehub --help` and `frame get` from a cold process (hyperfine when installed).
  const cliStartup = runs('cliStartup') ? await benchCliStartup() : null
  // The hand-written fast paths (CAR, link scan, CID text, DAG-CBOR encode) beside the libraries they replace.
  const fastPaths = runs('fastPaths') ? await runChild<FastPathsReport>('./fast-paths.ts', [], 10 * 60_000) : null
  // One frame's history (100 versions) in a 100k-frame branch: time and blocks read.
  const frameHistory = runs('frameHistory') ? await benchFrameHistory(cfg) : null
  // The consensus rule on 100k-frame trees (in memory): scoring 100 candidates, a consensus commit's cost.
  const consensus = runs('consensus') ? await benchConsensus(cfg) : null
  // Real daemons on loopback: time from a partition's heal to one head on every node.
  const consensusHeal = runs('consensusHeal') ? await benchConsensusHeal(undefined, undefined, 'restart') : null
  // The same with the daemons running on, cut apart on a LAN of network namespaces (needs root).
  const consensusHealLan = runs('consensusHealLan') ? await benchConsensusHeal(undefined, undefined, 'lan').catch((err: unknown) => ({ notRun: (err as Error).message })) : null
  const healLan = consensusHealLan != null && 'goal' in consensusHealLan ? consensusHealLan : null
  // MCP tool calls over Streamable HTTP beside the same operations over REST, same gateway, same run.
  const mcp = runs('mcp') ? await runChild<McpReport>('./mcp.ts', [], 20 * 60_000) : null
  // The explorer in headless Chromium: first render of a 1,000-commit graph and a 1,000-step session, bytes of the first load.
  const explorer = runs('explorer') ? await benchExplorer() : null

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
    sections: SECTIONS.filter(section => section === 'frameImport' ? frameImport != null : runs(section)),
    frameImport: frameImport?.report ?? null,
    traceAppend,
    otlpIngest,
    commitDiff: frameImport != null && commitDiff != null
      ? {
          commit: { frames: cfg.frames, commitMs: frameImport.report.framehub.commitMs, treeBuildMs: frameImport.report.breakdownMs.buildTree, importIncludingTreeMs: frameImport.report.framehub.importMs },
          ...commitDiff.report
        }
      : null,
    snapshot,
    gateway,
    sync,
    cliStartup,
    fastPaths,
    frameHistory,
    consensus,
    consensusHeal,
    consensusHealLan,
    mcp,
    explorer,
    // A goal whose section did not run (or failed) is not met (false); goalsNotMet says why.
    ...summaryGoals({
      frameImport: { met: frameImport?.report.goal.met, notRun: !runs('frameImport'), reason: frameImport?.report.goal.reason },
      traceAppend: { met: traceAppend?.goal.met, notRun: !runs('traceAppend'), reason: traceAppend?.goal.reason },
      otlpIngest: { met: otlpIngest?.goal.met, notRun: !runs('otlpIngest'), reason: otlpIngest?.goal.reason },
      diff: { met: commitDiff?.report.goal.met, notRun: !runs('commitDiff'), reason: commitDiff?.report.goal.reason },
      gateway: { met: gateway?.goal.met, notRun: !runs('gateway'), reason: gateway != null ? Object.entries(gateway.goal.reasons).filter(([k]) => k !== 'met').map(([k, v]) => `${k}: ${v}`).join('; ') : undefined },
      gatewaySameRun: { met: gateway != null ? gateway.goal.sameRun.met && gateway.goal.memoryFlatMet : undefined, notRun: !runs('gateway'), reason: gateway != null ? [gateway.goal.sameRun.reason, gateway.goal.reasons.memoryFlatMet != null ? `memory: ${gateway.goal.reasons.memoryFlatMet}` : undefined].filter(r => r != null).join('; ') : undefined },
      // The daemon as users run it (logging, rate limit), and a repository larger than LevelDB's cache.
      gatewayAsRunSameRun: { met: gateway?.goal.sameRunAsRun.met, notRun: !runs('gateway'), reason: gateway?.goal.sameRunAsRun.reason },
      gatewayLargeRepoSameRun: { met: gateway?.goal.sameRunLargeRepo.met, notRun: !runs('gateway'), reason: gateway?.goal.sameRunLargeRepo.reason },
      sync: { met: sync?.goals.met, notRun: !runs('sync'), reason: sync != null ? reasonLine(sync.goals) : undefined },
      cliStartup: { met: cliStartup?.goal.met, notRun: !runs('cliStartup'), reason: cliStartup?.goal.reason },
      // No fast path slower than a library that could take its place (it should give way to the library).
      fastPaths: { met: fastPaths != null ? fastPaths.shouldGiveWay.length === 0 : undefined, notRun: !runs('fastPaths'), reason: fastPaths != null ? `not faster than a library that could replace them: ${fastPaths.shouldGiveWay.join(', ')}` : undefined },
      frameHistory: { met: frameHistory?.goal.met, notRun: !runs('frameHistory'), reason: frameHistory?.goal.reason },
      consensus: { met: consensus?.goal.met, notRun: !runs('consensus'), reason: consensus?.goal.reason },
      consensusHeal: { met: consensusHeal?.goal.met, notRun: !runs('consensusHeal'), reason: consensusHeal?.goal.reason },
      consensusHealLan: { met: healLan?.goal.met, notRun: !runs('consensusHealLan'), reason: healLan?.goal.reason ?? (consensusHealLan != null && 'notRun' in consensusHealLan ? consensusHealLan.notRun : undefined) },
      mcp: { met: mcp?.goal.met, notRun: !runs('mcp'), reason: mcp?.goal.reason },
      explorer: { met: explorer?.goal.met, notRun: !runs('explorer'), reason: explorer?.goal.reason }
    }),
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
// libp2p and OrbitDB timers (sync section) must not keep the process alive once the JSON is out.
process.exit()
