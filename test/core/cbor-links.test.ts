import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import { cborLinks } from '../../src/core/cbor-links.ts'

/** The reference: decode everything, collect links (maps in DAG-CBOR's key order: length, then bytes). */
function decodedLinks (bytes: Uint8Array): string[] {
  const out: string[] = []
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return
    const cid = CID.asCID(v)
    if (cid != null) { out.push(cid.toString()); return }
    if (v instanceof Uint8Array) return
    if (Array.isArray(v)) { v.forEach(visit); return }
    const keys = Object.keys(v).sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)))
    for (const k of keys) visit((v as Record<string, unknown>)[k])
  }
  visit(dagCbor.decode(bytes))
  return out
}

const cidArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 40 }).map(b => CID.createV1(0x55, identity.digest(b))),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map(b => CID.createV1(0x71, sha256.digest(b) as Awaited<ReturnType<typeof sha256.digest>>))
)

const valueArb = fc.letrec(tie => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null), fc.boolean(), fc.integer(), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }), fc.string(), fc.uint8Array({ maxLength: 300 }),
    fc.constant(new Uint8Array([0xd8, 0x2a, 0x58, 0x25, 0x00])), fc.constant('\u00d8*'), cidArb,
    fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 })
  )
})).value

describe('cborLinks: the links of DAG-CBOR bytes without decoding them', () => {
  it('finds what a full decode finds, in encoded order, for any value', async () => {
    const cids = await Promise.all(['a', 'b'].map(async s => CID.createV1(0x71, await sha256.digest(new TextEncoder().encode(s)))))
    fc.assert(fc.property(valueArb, (value) => {
      const bytes = dagCbor.encode(value)
      assert.deepEqual(cborLinks(bytes).map(String), decodedLinks(bytes))
    }), { numRuns: 2000 })
    // Integer-like keys: the encoded order, not JavaScript's property order.
    const bytes = dagCbor.encode({ 10: cids[0], a: cids[1] })
    assert.deepEqual(cborLinks(bytes).map(String), [cids[1], cids[0]].map(String))
  })

  it('throws on bytes that are not DAG-CBOR, never loops or reads past the end', () => {
    const link = dagCbor.encode([CID.parse('bafkqaaa')])
    for (const bad of [
      new Uint8Array([]), link.subarray(0, link.length - 1), new Uint8Array([0x9f, 0xff]), new Uint8Array([0xc1, 0x00]),
      new Uint8Array([0xd8, 0x2a, 0x01]), new Uint8Array([0xd8, 0x2a, 0x41, 0x01]), new Uint8Array([0x1c]),
      new Uint8Array([0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), new Uint8Array([0x81, 0x01, 0x02]),
      new Uint8Array([0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    ]) assert.throws(() => cborLinks(bad), Error, Buffer.from(bad).toString('hex'))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      try { cborLinks(junk) } catch {}
    }), { numRuns: 5000 })
  })
})
