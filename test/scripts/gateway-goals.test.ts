import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { it } from 'node:test'
import { cleanupAll } from '../../scripts/bench/common.ts'
import { loadRatio, medianLoad, parseWrkOutput, roundOrder, sameRunGoals, wrkLoad } from '../../scripts/bench/gateway.ts'
import type { LoadResult, LoadServer, Target } from '../../scripts/bench/gateway.ts'

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

it('gateway bench: a ratio over an anchor that failed, answered non-2xx or measured nothing is not met', () => {
  const raw = load(28_000, 9.9)
  // Before: only framehub's own answers were checked, so a Helia route answering 404s fast passed.
  const heliaNotFound = sameRunGoals(raw, load(56_000, 4), load(20_000, 11, 500))
  assert.equal(heliaNotFound.rawRpsOverHelia.met, false)
  assert.match(heliaNotFound.rawRpsOverHelia.reason ?? '', /Helia/)
  assert.equal(heliaNotFound.met, false)
  const heliaNothing = sameRunGoals(raw, load(56_000, 4), load(0, 0))
  assert.equal(heliaNothing.rawRpsOverHelia.met, false)
  assert.equal(heliaNothing.rawRpsOverHelia.value, null)
  const noCeiling = sameRunGoals(raw, null, load(20_000, 11))
  assert.equal(noCeiling.rawRpsOverCeiling.met, false)
  assert.match(noCeiling.rawRpsOverCeiling.reason ?? '', /ceiling/)
  assert.equal(noCeiling.met, false)
})

it('gateway bench: servers alternate, rotating every round', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map(r => roundOrder(['A', 'B', 'C', 'D'], r).join('')), ['ABCD', 'BCDA', 'CDAB', 'DABC', 'ABCD'])
})

it('gateway bench: a server\'s figure is the median of its rounds, its counts the sum', () => {
  const m = medianLoad([load(10_000, 8), load(30_000, 2, 3), load(20_000, 4)])
  assert.equal(m.requestsPerSecond, 20_000)
  assert.equal(m.latencyMs.p99, 4)
  assert.equal(m.non2xx, 3)
  assert.deepEqual(m.rounds.map(r => r.requestsPerSecond), [10_000, 30_000, 20_000])
  assert.equal(medianLoad([load(10_000, 8), load(20_000, 4)]).requestsPerSecond, 15_000)
})

it('gateway bench: ratios say why they are missing', () => {
  assert.deepEqual(loadRatio(load(20_000, 10), load(10_000, 4), 'ceiling'), { requestsPerSecond: 2, p50: 2.5, p99: 2.5 })
  const none = loadRatio(load(20_000, 10), undefined, 'heliaRaw')
  assert.equal(none.requestsPerSecond, null)
  assert.match(none.reason ?? '', /heliaRaw/)
})

it('gateway bench: wrk-paths.lua rotates over the paths file, goes on where the last run stopped, and reports parseable percentiles', async (t) => {
  if (spawnSync('wrk', ['--version']).error != null) {
    t.skip('wrk is not installed (apt-get install -y wrk)')
    return
  }
  const seen = new Map<string, number>()
  let accept = ''
  const server = createServer((req, res) => {
    seen.set(req.url ?? '', (seen.get(req.url ?? '') ?? 0) + 1)
    accept = req.headers.accept ?? ''
    res.end(req.url === '/missing' ? '' : 'ok')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  try {
    const port = (server.address() as AddressInfo).port
    const paths = Array.from({ length: 7 }, (_, i) => `/p/${i}`)
    const target: Target = { paths, headers: { accept: 'application/vnd.ipld.raw' } }
    const loadServer: LoadServer = { name: 'test', port, cursors: new Map(), cpuUs: async () => { const u = process.cpuUsage(); return u.user + u.system }, stop: async () => {} }
    const first = await wrkLoad(loadServer, target, 1, 2, 1)
    assert.ok(first.requests >= paths.length, `only ${first.requests} requests`)
    assert.equal(first.errors, 0)
    assert.equal(first.non2xx, 0)
    assert.ok(first.latencyMs.p50 > 0 && first.latencyMs.p50 <= first.latencyMs.p99 && first.latencyMs.p99 <= first.latencyMs.max)
    assert.equal(accept, 'application/vnd.ipld.raw')
    // Every path, and only those, each about as often as the others (one thread walks the list in order).
    assert.deepEqual([...seen.keys()].sort(), [...paths].sort())
    const counts = [...seen.values()]
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 2, `uneven rotation: ${JSON.stringify([...seen])}`)
    assert.equal(loadServer.cursors.get(paths), first.requests)
    const second = await wrkLoad(loadServer, target, 1, 2, 1)
    assert.equal(loadServer.cursors.get(paths), first.requests + second.requests)
  } finally {
    await new Promise(resolve => server.close(resolve))
    await cleanupAll()
  }
})

it('gateway bench: wrk output without the script\'s line is an error, not a zero', () => {
  assert.throws(() => parseWrkOutput('Running 1s test @ http://127.0.0.1:1\n  0 requests'), /WRK_JSON/)
  const w = parseWrkOutput('Running...\nWRK_JSON {"requests":10,"durationUs":1000000,"bytes":100,"errors":{"connect":0,"read":0,"write":0,"status":1,"timeout":0},"latencyUs":{"mean":5,"p50":4,"p90":8,"p99":9,"max":10}}\n')
  assert.equal(w.requests, 10)
  assert.equal(w.errors.status, 1)
})
