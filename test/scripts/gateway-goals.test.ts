import assert from 'node:assert/strict'
import { it } from 'node:test'
import { sameRunGoals } from '../../scripts/bench/gateway.ts'
import type { LoadResult } from '../../scripts/bench/gateway.ts'

const load = (requestsPerSecond: number, p99: number, non2xx = 0): LoadResult => ({
  requestsPerSecond,
  latencyMs: { mean: p99 / 3, p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2 },
  requests: requestsPerSecond * 10,
  errors: 0,
  timeouts: 0,
  non2xx,
  statusCodes: {},
  MBps: 1,
  seconds: 10,
  serverCpuUsPerRequest: 50
})

it('gateway bench: the issue\'s reference machine, measured here, meets its own goals exactly at the bounds', () => {
  // Reference: ceiling 56k req/s p99 4 ms, Helia 20k req/s p99 11 ms; goal 28k req/s, p99 < 10 ms.
  const goals = sameRunGoals(load(28_000, 9.9), load(56_000, 4), load(20_000, 11))
  assert.equal(goals.rawRpsOverCeiling.value, 0.5)
  assert.equal(goals.rawRpsOverCeiling.atLeast, 0.5)
  assert.equal(goals.rawRpsOverHelia.atLeast, 1.4)
  assert.equal(goals.rawP99OverCeiling.below, 2.5)
  assert.equal(goals.rawP99OverHelia.below, 0.909)
  assert.equal(goals.met, true)
})

it('gateway bench: a slower machine is judged by ratios, and each missed ratio shows', () => {
  const ceiling = load(16_000, 8)
  const helia = load(5_000, 30)
  assert.equal(sameRunGoals(load(14_000, 12), ceiling, helia).met, true)
  const slowTail = sameRunGoals(load(14_000, 21), ceiling, helia)
  assert.equal(slowTail.rawP99OverCeiling.met, false)
  assert.equal(slowTail.rawP99OverHelia.met, true)
  assert.equal(slowTail.met, false)
  assert.equal(sameRunGoals(load(7_000, 12), ceiling, helia).rawRpsOverCeiling.met, false)
  assert.equal(sameRunGoals(load(6_000, 12), ceiling, helia).rawRpsOverHelia.met, false)
})

it('gateway bench: answers that were not 2xx meet no goal', () => {
  const goals = sameRunGoals(load(14_000, 12, 5), load(16_000, 8), load(5_000, 30))
  assert.equal(goals.met, false)
  assert.equal(goals.rawRpsOverCeiling.met, false)
})
