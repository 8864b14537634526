import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { frameHistoryGoal } from '../../scripts/bench/frame-history.ts'

describe('bench goal of the frame history', () => {
  it('is met only with both figures measured: blocks within commits × (1 + depth) and the warm history under 100 ms of CPU time', () => {
    assert.equal(frameHistoryGoal(400, 800, 12).met, true)
    assert.equal(frameHistoryGoal(800, 800, 12).met, true)
    const tooMany = frameHistoryGoal(801, 800, 12)
    assert.equal(tooMany.met, false)
    assert.match(tooMany.reason ?? '', /blocksRead/)
    const slow = frameHistoryGoal(400, 800, 100)
    assert.equal(slow.met, false)
    assert.match(slow.reason ?? '', /medianCpuMs/)
    assert.equal(frameHistoryGoal(null, 800, 12).met, false)
    assert.equal(frameHistoryGoal(400, 800, null).met, false)
  })
})
