import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { CborWriter, encodeDagCbor, encodeDagCborInto } from '../../src/core/cbor-encode.ts'
import { cidOf } from '../../src/core/cid.ts'
import { encodeBlock } from '../../src/core/block.ts'
import { encodeFrame, frameFromJson } from '../../src/core/frame.ts'

const cidArb = fc.uint8Array({ minLength: 1, maxLength: 40 }).map(b => cidOf(b))
const keyArb = fc.oneof(fc.string({ maxLength: 6 }), fc.string({ unit: 'grapheme', maxLength: 4 }), fc.constantFrom('/', 'bytes', '__proto__', 'a', 'aa', 'b', 'é', '\uE000', '\u{1F600}', '\uD800'))
const leaf = fc.oneof(
  fc.constant(null), fc.boolean(),
  fc.integer(), fc.double(), fc.maxSafeInteger(), fc.maxSafeNat().map(n => -n), fc.constantFrom(-0, 2 ** 53, -(2 ** 53), 1e300, 0.1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -24, -25),
  fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ minLength: 60, maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }), cidArb
)
const valueArb = fc.letrec(tie => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(keyArb, tie('value'), { maxKeys: 6 }))
})).value

/** dag-cbor's answer: bytes (as a plain Uint8Array: cborg may hand out a Buffer), or the fact that it throws. */
function reference (value: unknown): Uint8Array | 'throws' {
  try {
    return plain(dagCbor.encode(value))
  } catch {
    return 'throws'
  }
}

const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

describe('DAG-CBOR encoder', () => {
  it('writes the same bytes as @ipld/dag-cbor, and throws where it throws', () => {
    fc.assert(fc.property(valueArb, (value) => {
      const want = reference(value)
      if (want === 'throws') assert.throws(() => encodeDagCbor(value))
      else assert.deepEqual(plain(encodeDagCbor(value)), want)
    }), { numRuns: 3000 })
  })

  it('handles the edge cases by hand', () => {
    const cid = CID.parse('bafyreigvh3ip2lusvx7ohilikcgivr6fdzfrdvccpi4ol6oo2yvvkjmynm')
    const cases: unknown[] = [
      -0, 0.5, -1.5, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, 'x'.repeat(70000), 'é'.repeat(40), '\u{1F600}',
      { b: 1, a: 2, aa: 3, é: 4, '\uE000': 5, '\u{1F600}': 6 }, [cid, { '/': cid.toString() }], { '/': 'x', bytes: 'x' },
      new Uint8Array(70000), Object.assign(Object.create(null) as object, { a: 1 }), { a: undefined }, [undefined], NaN, Infinity,
      new Map([['a', 1]]), Buffer.from('ab'), '\uD800', { '\uDC00': 1 }, { '': 1 }, JSON.parse('{"__proto__": 1, "a": 2}')
    ]
    for (const [i, value] of cases.entries()) {
      const want = reference(value)
      if (want === 'throws') assert.throws(() => encodeDagCbor(value), `case ${i}`)
      else assert.deepEqual(plain(encodeDagCbor(value)), want, `case ${i}`)
    }
  })

  it('appends values one after another into one growing buffer, the same bytes; a value it cannot encode leaves the buffer as it was', () => {
    fc.assert(fc.property(fc.array(valueArb, { maxLength: 8 }), fc.integer({ min: 1, max: 64 }), (values, size) => {
      const w = new CborWriter(new Uint8Array(size))
      const want: number[] = []
      for (const value of values) {
        const ref = reference(value)
        if (ref === 'throws') {
          const pos = w.pos
          assert.throws(() => encodeDagCborInto(w, value))
          assert.equal(w.pos, pos)
          continue
        }
        assert.equal(encodeDagCborInto(w, value), want.length)
        want.push(...ref)
      }
      assert.deepEqual(w.bytes.subarray(0, w.pos), new Uint8Array(want))
    }), { numRuns: 1000 })
  })

  it('frames, and every block framehub encodes, get the CIDs dag-cbor gives', () => {
    const frame = frameFromJson({ id: 'a/b', kind: 'note', title: 'T', body: { n: 1, f: 0.25, s: 'é', l: [1, 'x', null, true], link: { '/': 'bafyreigvh3ip2lusvx7ohilikcgivr6fdzfrdvccpi4ol6oo2yvvkjmynm' } }, tags: ['z', 'a'] })
    const block = encodeFrame(frame)
    assert.deepEqual(plain(block.bytes), plain(dagCbor.encode(frame)))
    assert.equal(block.cid.toString(), cidOf(dagCbor.encode(frame)).toString())
    assert.deepEqual(plain(encodeBlock({ x: [1, 2] }).bytes), plain(dagCbor.encode({ x: [1, 2] })))
  })
})
