import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { benchConfig } from '../../scripts/bench/common.ts'
import { benchConsensus, consensusGoal } from '../../scripts/bench/consensus.ts'

describe('bench consensus section', () => {
  it('goal: a decide() that failed or a missing figure is not met, with the reason', () => {
    const failed = consensusGoal({ missing: 'decide failed: ERR_PAYLOAD_TOO_LARGE' }, null, 100)
    assert.equal(failed.met, false)
    assert.match(failed.reason ?? '', /ERR_PAYLOAD_TOO_LARGE/)
    assert.equal(consensusGoal(150, 101, 100).met, false)
    assert.equal(consensusGoal(200, 10, 100).met, false)
    assert.equal(consensusGoal(150, 100, 100).met, true)
  })

  it('on small trees: scoring reads tree nodes by Merkle diff (within the bound), the adoption keeps shared ids as forks', async () => {
    const prev = process.env.BENCH_QUICK
    process.env.BENCH_QUICK = '1'
    try {
      const r = await benchConsensus({ ...benchConfig(), frames: 2_000 })
      assert.equal(r.store, 'in-memory (Map)')
      assert.equal(r.scoring.error, undefined)
      assert.ok(r.scoring.warm.blocksRead <= r.scoring.boundBlocks, `${r.scoring.warm.blocksRead} > ${r.scoring.boundBlocks}`)
      // The cold run counts the reference tree once in full; the warm one does not.
      assert.ok(r.scoring.cold.blocksRead > r.scoring.warm.blocksRead)
      assert.equal(r.adoption.forks, r.adoption.sharedIds)
      assert.ok(r.adoption.newTreeNodes > 0)
    } finally {
      if (prev === undefined) delete process.env.BENCH_QUICK
      else process.env.BENCH_QUICK = prev
    }
  })
})
