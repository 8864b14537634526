/**
 * `npm run sim`: the consensus rule in a simulated network of 10, 50 and 100 nodes (steady,
 * partition-then-heal, churn, lossy). Prints one JSON document on stdout; progress on stderr.
 * Same seed → same JSON.
 *
 *   SIM_SEED (1)  SIM_NODES (10,50,100)  SIM_SCENARIOS (steady,partition,churn,lossy)
 *   SIM_WRITES (write commits per run; default by size: 10 per node at 10 nodes, 1.5 at 50, 0.5 at 100)
 *   SIM_TABLE=1: also print the Markdown table of the README on stderr.
 */
import { performance } from 'node:perf_hooks'
import type { ScenarioResult } from './harness.ts'
import type { ScenarioName } from './scenarios.ts'

// Scenario names here, so that bad input is refused before the core modules load.
const SCENARIOS = ['steady', 'partition', 'churn', 'lossy']

function listEnv (name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback).split(',').map(s => s.trim()).filter(s => s !== '')
}

const seedText = process.env.SIM_SEED ?? '1'
const seed = Number(seedText)
if (!Number.isInteger(seed) || seed < 0) throw new Error(`SIM_SEED must be a non-negative integer, got "${seedText}"`)
const sizes = listEnv('SIM_NODES', '10,50,100').map(t => {
  const n = Number(t)
  if (!Number.isInteger(n) || n < 2 || n > 1000) throw new Error(`SIM_NODES: "${t}" is not a node count in 2..1000`)
  return n
})
const writesText = process.env.SIM_WRITES
const writes = writesText === undefined || writesText === '' ? undefined : Number(writesText)
if (writes !== undefined && (!Number.isInteger(writes) || writes < 0)) throw new Error(`SIM_WRITES must be a non-negative integer, got "${writesText}"`)
const names = listEnv('SIM_SCENARIOS', SCENARIOS.join(',')).map(t => {
  if (!(SCENARIOS as readonly string[]).includes(t)) throw new Error(`SIM_SCENARIOS: unknown scenario "${t}" (known: ${SCENARIOS.join(', ')})`)
  return t as ScenarioName
})

const { simulate } = await import('./harness.ts')
const { scenario, tableOf, writesFor } = await import('./scenarios.ts')
const results: ScenarioResult[] = []
const started = performance.now()
for (const n of sizes) {
  for (const name of names) {
    const t = performance.now()
    const r = await simulate(scenario(name, n, seed, writes !== undefined ? { writes } : {}))
    results.push(r)
    process.stderr.write(`[sim] ${n} nodes ${name}: ${Object.keys(r.decisions.failed).length > 0 ? `decide failed ${JSON.stringify(r.decisions.failed)}, ` : ''}converged ${r.convergence} after ${r.convergeMs ?? 'never'} ms, versions ${r.versions.written}/${r.versions.kept}, ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
  }
}
const failed = results.filter(r => r.convergence !== 1 || r.versions.written !== r.versions.kept)
const out = {
  simulation: 'framehub consensus',
  seed,
  model: {
    network: 'one message = a node\'s signed chain entry "shared/main → head" to each other node, one-way delay uniform in latencyMs; receiving it syncs the blocks under the head that the receiver lacks (counted in bytes.blocks)',
    node: 'writes 1–3 frames per commit on its own head; on a changed proposal, at most once per decideEveryMs, runs decide() over the latest proposal of every node it knows (its own included), adopts the head when it contains its own head\'s real commits, and publishes it; re-announces its latest entry every reannounceMs',
    decisions: 'nodes with the same view (same proposal per node) get the same decision: it is computed once per view and shared (decisions.computed of decisions.made)',
    writes: Object.fromEntries(sizes.map(n => [n, `${writes ?? writesFor(n)} commits (${(writes ?? writesFor(n)) / n} per node)`])),
    cheaper: 'larger networks write fewer commits per node to keep the run within minutes (see writes)',
    // The settings of each scenario (the node count and writes vary by run: see results).
    scenarios: Object.fromEntries(names.map(name => {
      const { nodes: _nodes, writes: _writes, seed: _seed, churn, ...rest } = scenario(name, sizes[0] ?? 10, seed)
      return [name, { ...rest, ...(churn !== undefined ? { churn: { departures: '30% of the nodes (at least 2)', offlineMs: churn.offlineMs } } : {}) }]
    }))
  },
  results,
  ok: failed.length === 0
}
process.stdout.write(JSON.stringify(out, null, 2) + '\n')
if (process.env.SIM_TABLE === '1') process.stderr.write(tableOf(results) + '\n')
process.stderr.write(`[sim] done in ${((performance.now() - started) / 1000).toFixed(1)} s${failed.length > 0 ? `; not converged or lost versions: ${failed.map(r => `${r.nodes}/${r.scenario}`).join(', ')}` : ''}\n`)
if (failed.length > 0) process.exitCode = 1
