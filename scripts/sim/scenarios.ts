/**
 * The scenarios of `npm run sim`: for each network size, steady (no faults), partition-then-heal,
 * churn and lossy. Larger networks write fewer commits per node so that the whole run stays
 * within a few minutes on 2 cores (said in the output as `writes`).
 */
import type { Scenario, ScenarioResult } from './harness.ts'

/** The same list as in run.ts (which checks its input before loading this module). */
export const SCENARIOS = ['steady', 'partition', 'churn', 'lossy'] as const
export type ScenarioName = typeof SCENARIOS[number]

/** Write commits in a run of `nodes` nodes: 10 per node at 10 nodes, 1.5 at 50, 0.5 at 100 (cost grows with nodes²). */
export function writesFor (nodes: number): number {
  if (nodes <= 10) return nodes * 10
  if (nodes <= 50) return Math.ceil(nodes * 1.5)
  return Math.ceil(nodes / 2)
}

export function scenario (name: ScenarioName, nodes: number, seed: number, overrides: Partial<Scenario> = {}): Scenario {
  const base: Scenario = {
    name,
    nodes,
    seed,
    writes: writesFor(nodes),
    writeWindowMs: 6_000,
    initialFrames: 200,
    contestedShare: 0.1,
    contestedIds: 50,
    ownIds: 10,
    removeShare: 0.05,
    latencyMs: [10, 80],
    reannounceMs: 1_000,
    decideEveryMs: 250,
    drop: 0,
    duplicate: 0,
    settleLimitMs: 60_000,
    stableMs: 3_000
  }
  const faults: Partial<Scenario> =
    name === 'partition'
      ? { partition: { fromMs: 1_500, toMs: 7_000, share: 0.5 } }
      : name === 'churn'
        ? { churn: { departures: Math.max(2, Math.round(nodes * 0.3)), offlineMs: [500, 3_000] } }
        : name === 'lossy'
          ? { drop: 0.2, duplicate: 0.1 }
          : {}
  return { ...base, ...faults, ...overrides }
}

/** One README table row per result. */
export function tableOf (results: ScenarioResult[]): string {
  const rows = [
    '| nodes | scenario | writes | converge ms | rounds (max/mean) | convergence | conflict rate (forks/states) | versions written/kept | MB exchanged (blocks + messages) | failed decisions |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const r of results) {
    rows.push(`| ${r.nodes} | ${r.scenario} | ${r.writes.commits} | ${r.convergeMs ?? 'never'} | ${r.rounds === null ? '–' : `${r.rounds.max} / ${r.rounds.mean}`} | ${r.convergence ?? `none (${(r.canonicalError ?? '').split(':')[0]})`} | ${r.conflicts.rate} (${r.conflicts.forks}/${r.conflicts.mergedFrameStates}) | ${r.versions.written}/${r.versions.kept} | ${(r.bytes.total / 1e6).toFixed(1)} (${(r.bytes.blocks / 1e6).toFixed(1)} + ${(r.bytes.messages / 1e6).toFixed(1)}) | ${Object.entries(r.decisions.failed).filter(([k]) => k !== 'again').map(([k, v]) => `${v} ${k}`).join(', ') || 0} |`)
  }
  return rows.join('\n')
}
