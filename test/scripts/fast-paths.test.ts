import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { benchFastPaths, measurePair } from '../../scripts/bench/fast-paths.ts'

describe('bench fastPaths: each fast path beside its library', () => {
  it('every pair gives the same output on both sides, and reports both sides and their ratio', async () => {
    const report = await benchFastPaths({ quick: true, roundMs: 1, rounds: 1 })
    assert.deepEqual(Object.keys(report.pairs).sort(), ['blockEncode', 'carRead', 'carWriteBuffer', 'carWriteStream', 'cidParse', 'cidToString', 'linkScan'])
    for (const [name, pair] of Object.entries(report.pairs)) {
      assert.equal(pair.sameOutput, true, `${name}: ours and ${pair.library} agree`)
      assert.ok(pair.oursResult.nsPerOp > 0 && pair.libraryResult.nsPerOp > 0, name)
      assert.equal(pair.faster, pair.ratio > 1 && pair.pairedRatio > 1 && pair.oursWonRounds * 2 > pair.rounds, name)
    }
    assert.deepEqual(report.notFaster, Object.entries(report.pairs).filter(([, p]) => !p.faster).map(([n]) => n))
    assert.equal(report.allFaster, report.notFaster.length === 0)
    assert.deepEqual(report.shouldGiveWay, report.notFaster.filter(n => report.pairs[n]?.libraryCanReplace))
    // CarBufferWriter cannot stream (it needs the CAR's size first): never a replacement for carStream.
    assert.equal(report.pairs.carWriteBuffer?.libraryCanReplace, false)
  })

  it('a pair whose two sides give different output is not faster, however fast ours is', async () => {
    let sink = 0
    const pair = await measurePair('differs', {
      ours: 'nothing',
      library: 'a loop',
      inputs: 'none',
      opsPerCall: 1,
      runOurs: () => 0,
      runLibrary: () => { for (let i = 0; i < 10_000; i++) sink += i; return sink },
      same: () => false
    }, 1, 3)
    assert.equal(pair.sameOutput, false)
    assert.equal(pair.faster, false)
  })
})
