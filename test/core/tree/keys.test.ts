import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { TREE_FANOUT, compareKeys, isBoundary, keyHash } from '../../../src/core/tree/index.ts'
import { byteCompare, keyArb } from './helpers.ts'

/** Straightforward reference: FNV-1a over TextEncoder bytes, level mix, fmix32. */
function referenceHash (key: string, level: number): number {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(key)) h = Math.imul(h ^ byte, 0x01000193) >>> 0
  h = (h ^ Number((BigInt(level) * 0x9e3779b9n) % 0x100000000n)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

const sign = (n: number): number => n < 0 ? -1 : n > 0 ? 1 : 0
const anyKey = fc.oneof(keyArb, fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ maxLength: 8 })).filter(k => k.isWellFormed())

describe('compareKeys', () => {
  it('matches UTF-8 byte order', () => {
    fc.assert(fc.property(anyKey, anyKey, (a, b) => {
      assert.equal(sign(compareKeys(a, b)), sign(byteCompare(a, b)))
      assert.equal(sign(compareKeys(b, a)), sign(-compareKeys(a, b)))
    }), { numRuns: 5000 })
  })

  it('orders astral characters after U+E000..U+FFFF, unlike UTF-16', () => {
    assert.ok(compareKeys('\uffff', '\u{10000}') < 0)
    assert.ok(compareKeys('\ue000', '\u{1f600}') < 0)
    assert.ok(compareKeys('a\u{10ffff}', 'a\uffff') > 0)
    assert.ok(compareKeys('\ud7ff', '\u{10000}') < 0)
    assert.ok(compareKeys('', 'a') < 0)
    assert.ok(compareKeys('ab', 'a') > 0)
    assert.equal(compareKeys('\u{1f600}', '\u{1f600}'), 0)
  })

  it('sorts like Buffer.compare', () => {
    fc.assert(fc.property(fc.array(anyKey, { maxLength: 40 }), keys => {
      assert.deepEqual([...keys].sort(compareKeys), [...keys].sort(byteCompare))
    }), { numRuns: 300 })
  })
})

describe('isBoundary', () => {
  it('keyHash equals the documented function (FNV-1a 32 over UTF-8, level mix, fmix32)', () => {
    fc.assert(fc.property(anyKey, fc.nat({ max: 2 ** 31 }), (key, level) => {
      assert.equal(keyHash(key, level), referenceHash(key, level))
      assert.equal(isBoundary(key, level), referenceHash(key, level) % 32 === 0)
    }), { numRuns: 3000 })
  })

  it('is pinned to fixed vectors (other implementations must agree)', () => {
    assert.equal(TREE_FANOUT, 32)
    assert.equal(keyHash('', 0), 2872998923)
    assert.equal(keyHash('a', 0), 444641715)
    assert.equal(keyHash('frame', 1), 1749119205)
    assert.equal(keyHash('\u00e9\ue000', 0), 1236622558)
    assert.equal(keyHash('\u{1f600}', 2), 3119635278)
    assert.equal(keyHash('hello world', 7), 558583314)
  })

  it('is a boundary about once per TREE_FANOUT keys, independently per level', () => {
    let level0 = 0
    let level1 = 0
    let both = 0
    const n = 64_000
    for (let i = 0; i < n; i++) {
      const key = `key-${i}`
      const a = isBoundary(key, 0)
      const b = isBoundary(key, 1)
      if (a) level0++
      if (b) level1++
      if (a && b) both++
    }
    for (const count of [level0, level1]) assert.ok(count > n / 40 && count < n / 26, `boundary rate ${count / n}`)
    assert.ok(both < n / 300, `levels are correlated: ${both}`)
  })
})
