import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { allMet, judge, ratioOf, summaryGoals } from '../../scripts/bench/goals.ts'
import { commitDiffGoal } from '../../scripts/bench/commit-diff.ts'
import { syncGoals } from '../../scripts/bench/sync.ts'
import { traceAppendGoal } from '../../scripts/bench/trace-append.ts'

describe('bench goals: a goal without a measurement is not met', () => {
  it('judge: null, undefined, NaN and a missing anchor are not met, with a reason', () => {
    for (const value of [null, undefined, Number.NaN]) {
      const g = judge(value, { atLeast: 5 })
      assert.equal(g.met, false)
      assert.equal(g.value, null)
      assert.ok(g.reason != null && g.reason !== '')
    }
    const skipped = judge({ missing: 'anchor OrbitDB: skipped (BENCH_ORBITDB=0)' }, { atLeast: 20 })
    assert.deepEqual(skipped, { value: null, met: false, reason: 'anchor OrbitDB: skipped (BENCH_ORBITDB=0)' })
    assert.equal(judge(Number.POSITIVE_INFINITY, { atLeast: 1 }).met, false)
  })

  it('judge: a value is met only inside its bound, and a dirty run is never met', () => {
    assert.deepEqual(judge(5, { atLeast: 5 }), { value: 5, met: true })
    assert.equal(judge(4.9, { atLeast: 5 }).met, false)
    assert.equal(judge(99.9, { below: 100 }).met, true)
    assert.equal(judge(100, { below: 100 }).met, false)
    const dirty = judge(7, { atLeast: 5 }, { dirty: '3 answers were not 2xx' })
    assert.equal(dirty.met, false)
    assert.equal(dirty.reason, '3 answers were not 2xx')
  })

  it('ratioOf: an anchor that failed, was skipped or measured 0 gives no ratio', () => {
    assert.equal(ratioOf(30, 10, { anchor: 'helia' }), 3)
    assert.deepEqual(ratioOf(30, 0, { anchor: 'helia' }), { missing: 'anchor helia measured 0' })
    assert.deepEqual(ratioOf(30, null, { anchor: 'helia' }), { missing: 'anchor helia not measured' })
    assert.deepEqual(ratioOf(30, { missing: 'exited with code 1' }, { anchor: 'helia' }), { missing: 'anchor helia: exited with code 1' })
    assert.equal(judge(ratioOf(30, 0, { anchor: 'helia' }), { atLeast: 1.4 }).met, false)
  })

  it('allMet: an empty list or one unmet goal is not met', () => {
    assert.equal(allMet([]), false)
    assert.equal(allMet([{ met: true }, { met: false }]), false)
    assert.equal(allMet([{ met: true }, { met: true }]), true)
  })

  it('sync: a failed or skipped anchor fails its ratio goal and the whole goal', () => {
    const fast = { chainMs: 400, commitMs: 2000, liveP50Ms: 40, liveMaxMs: 60 }
    const ok = syncGoals({ chainVsWalk: 150, chainVsKnown: 8, ...fast })
    assert.equal(ok.met, true)
    const skipped = syncGoals({ chainVsWalk: { missing: 'anchor bitswap-walk: skipped (BENCH_SYNC_ANCHORS=0)' }, chainVsKnown: 8, ...fast })
    assert.equal(skipped.chainVsWalk.met, false)
    assert.equal(skipped.chainVsWalk.reason, 'anchor bitswap-walk: skipped (BENCH_SYNC_ANCHORS=0)')
    assert.equal(skipped.met, false)
    assert.equal(syncGoals({ chainVsWalk: 150, chainVsKnown: null, ...fast }).met, false)
  })

  it('sync: liveMaxMs is judged against its bound (one slow live round fails the goal)', () => {
    const goals = syncGoals({ chainVsWalk: 150, chainVsKnown: 8, chainMs: 400, commitMs: 2000, liveP50Ms: 40, liveMaxMs: 250 })
    assert.equal(goals.liveP50Ms.met, true)
    assert.equal(goals.liveMaxMs.goal, 100)
    assert.equal(goals.liveMaxMs.met, false)
    assert.equal(goals.met, false)
    assert.equal(syncGoals({ chainVsWalk: 150, chainVsKnown: 8, chainMs: 400, commitMs: 2000, liveP50Ms: null, liveMaxMs: null }).met, false)
  })

  it('trace append: without the OrbitDB anchor the goal is not met', () => {
    assert.equal(traceAppendGoal(9000, 25).met, true)
    const skipped = traceAppendGoal(9000, { missing: 'anchor OrbitDB: skipped (BENCH_ORBITDB=0)' })
    assert.equal(skipped.met, false)
    assert.equal(skipped.judged.ratio.met, false)
    assert.match(skipped.reason ?? '', /BENCH_ORBITDB=0/)
    assert.equal(traceAppendGoal(9000, null).met, false)
    assert.equal(traceAppendGoal(4000, 25).met, false)
  })

  it('summary: a section not run or failed is false with a reason, never null', () => {
    const { goals, goalsNotMet } = summaryGoals({
      a: { met: true, notRun: false },
      b: { met: undefined, notRun: true },
      c: { met: undefined, notRun: false },
      d: { met: false, notRun: false, reason: 'ratio: anchor OrbitDB failed' }
    })
    assert.deepEqual(goals, { a: true, b: false, c: false, d: false })
    assert.deepEqual(goalsNotMet, { b: 'not measured: section not run', c: 'not measured: section failed', d: 'ratio: anchor OrbitDB failed' })
  })
})

describe('commit/diff goal', () => {
  it('is met within both bounds, and not met (with a reason) past one or without a figure', () => {
    assert.equal(commitDiffGoal(40, 80, 3).met, true)
    assert.equal(commitDiffGoal(80, 80, 3).met, true)
    const tooMany = commitDiffGoal(81, 80, 3)
    assert.equal(tooMany.met, false)
    assert.match(tooMany.reason ?? '', /blocksRead/)
    assert.equal(commitDiffGoal(40, 80, 150).met, false)
    assert.equal(commitDiffGoal(null, 80, 3).met, false)
  })
})
