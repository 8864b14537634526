import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { simulate } from '../../scripts/sim/harness.ts'
import { scenario } from '../../scripts/sim/scenarios.ts'

describe('consensus simulation (scripts/sim)', () => {
  it('5 nodes split in two groups that write on both sides converge after the heal, nothing lost, and the run repeats', async () => {
    const s = scenario('partition', 5, 7, { writes: 30 })
    const r = await simulate(s)
    // The partition did cut messages, and both sides wrote.
    assert.ok(r.messages.cutOff > 0)
    assert.equal(r.stuck, undefined)
    assert.equal(r.convergence, 1)
    assert.ok(r.convergeMs !== null && r.convergeMs >= 0)
    assert.equal(r.versions.lost.length, 0, r.versions.lost.join(', '))
    assert.equal(r.versions.kept, r.versions.written)
    assert.ok(r.versions.written > s.initialFrames)
    assert.ok(r.bytes.blocks > 0 && r.bytes.messages > 0)
    // Same seed, same result.
    assert.deepEqual(await simulate(s), r)
  })

  it('npm run sim refuses an unknown scenario or node count with a clear message', () => {
    const run = fileURLToPath(new URL('../../scripts/sim/run.ts', import.meta.url))
    for (const [env, message] of [[{ SIM_SCENARIOS: 'stedy' }, /unknown scenario "stedy"/], [{ SIM_NODES: 'ten' }, /SIM_NODES: "ten"/], [{ SIM_SEED: '-1' }, /SIM_SEED/]] as const) {
      const out = spawnSync(process.execPath, [run], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 })
      assert.notEqual(out.status, 0)
      assert.match(out.stderr, message)
      assert.equal(out.stdout, '')
    }
  })
})
