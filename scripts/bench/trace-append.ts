/**
 * Signed, persisted trace-step append: N sequential `traces.append` on a fresh repository (each
 * step signed with the node's Ed25519 key and written with its head move in one LevelDB batch),
 * beside OrbitDB `events.add` of the same step objects (in a child process, see orbitdb-append.ts).
 */
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { createTraceStep } from '../../src/core/trace-step.ts'
import { createNode } from '../../src/node.ts'
import { runChild } from './child.ts'
import { allMet, judge, reasonLine } from './goals.ts'
import type { Judged, Measurement } from './goals.ts'
import { cpuMs, log, makeStep, now, perSecond, prng, round, tempDir } from './common.ts'
import type { BenchConfig } from './common.ts'
import type { OrbitResult } from './orbitdb-append.ts'

export interface TraceAppendReport {
  framehub: {
    steps: number
    ms: number
    /** CPU time of the process (all threads) over the appends. */
    cpuMs: number
    stepsPerSecond: number
    meanAppendMs: number
    /** Steps read back by `traces.show` (sanity check). */
    readBack: number
    /** CPU cost of building + signing + encoding one step alone (no I/O), for the breakdown. */
    signEncodeOnlyPerSecond: number
  }
  orbitdb: (OrbitResult & { ok: true }) | { ok: false, error: string }
  /** framehub steps/s ÷ OrbitDB entries/s. */
  ratio: number | null
  /**
   * At least 5,000 steps/s and 20 times OrbitDB's entries/s; judged by goals.ts: with the OrbitDB
   * anchor failed or skipped (BENCH_ORBITDB=0) the ratio goal, and so the goal, is not met.
   */
  goal: {
    stepsPerSecond: number
    ratio: number
    met: boolean
    judged: { stepsPerSecond: Judged, ratio: Judged }
    reason?: string
  }
}

/** Judges trace append: steps/s, and the ratio to OrbitDB (a missing anchor is not met). */
export function traceAppendGoal (stepsPerSecond: number, ratio: Measurement): TraceAppendReport['goal'] {
  const judged = { stepsPerSecond: judge(stepsPerSecond, { atLeast: 5000 }), ratio: judge(ratio, { atLeast: 20 }) }
  const met = allMet(Object.values(judged))
  return { stepsPerSecond: 5000, ratio: 20, met, judged, ...(met ? {} : { reason: reasonLine(judged) }) }
}

export async function benchTraceAppend (cfg: BenchConfig): Promise<TraceAppendReport> {
  const dir = await tempDir('traces')
  const node = await createNode({ repo: join(dir, 'repo'), create: true })
  let fh: TraceAppendReport['framehub']
  try {
    const rand = prng(cfg.seed + 1)
    const steps = Array.from({ length: cfg.steps }, (_, i) => makeStep(rand, i))
    log(`trace append: ${cfg.steps} signed steps`)
    const session = 'bench/session-1'
    const cpu0 = process.cpuUsage()
    const start = now()
    for (let i = 0; i < steps.length; i++) {
      await node.traces.append(session, steps[i])
      if ((i + 1) % 1000 === 0) log(`trace append: ${i + 1}/${cfg.steps} (${perSecond(i + 1, now() - start)}/s)`)
    }
    const ms = now() - start
    const appendCpuMs = cpuMs(cpu0)
    let readBack = 0
    for await (const _ of node.traces.show(session)) readBack++

    // Breakdown: the same steps built, signed and encoded without any store.
    const signStart = now()
    let parents: CID[] = []
    for (const s of steps) {
      const block = await createTraceStep(node.repo.signer, { ...s, session, parents })
      parents = [block.cid]
    }
    const signMs = now() - signStart
    fh = {
      steps: cfg.steps,
      ms: round(ms),
      cpuMs: appendCpuMs,
      stepsPerSecond: perSecond(cfg.steps, ms),
      meanAppendMs: round(ms / Math.max(1, cfg.steps), 3),
      readBack,
      signEncodeOnlyPerSecond: perSecond(cfg.steps, signMs)
    }
    log(`trace append: framehub ${fh.stepsPerSecond} steps/s`)
  } finally {
    await node.close()
  }

  let orbitdb: TraceAppendReport['orbitdb']
  if (!cfg.orbitdb) {
    orbitdb = { ok: false, error: 'skipped (BENCH_ORBITDB=0)' }
  } else {
    try {
      const orbitDir = await tempDir('orbitdb')
      log(`trace append: OrbitDB anchor, ${cfg.orbitSteps} entries (child process)`)
      const result = await runChild<OrbitResult>('./orbitdb-append.ts', [orbitDir, String(cfg.orbitSteps), String(cfg.seed + 1)], 15 * 60_000)
      orbitdb = { ok: true, ...result }
    } catch (err) {
      orbitdb = { ok: false, error: (err as Error).message }
    }
  }
  const ratio = orbitdb.ok && orbitdb.perSecond > 0 ? round(fh.stepsPerSecond / orbitdb.perSecond, 1) : null
  return {
    framehub: fh,
    orbitdb,
    ratio,
    goal: traceAppendGoal(fh.stepsPerSecond, ratio ?? { missing: orbitdb.ok ? 'OrbitDB measured 0 entries/s' : `anchor OrbitDB: ${orbitdb.error}` })
  }
}
