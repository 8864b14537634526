import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { cidOf, cidString, parseCid, tryParseCid } from '../../src/core/cid.ts'
import { smallBytes } from '../../src/core/slab.ts'

const cidArb = fc.tuple(fc.constantFrom(0x55, 0x70, 0x71, 0x0129, 0x300000), fc.uint8Array({ maxLength: 70 }), fc.boolean()).map(([codec, bytes, hashed]) =>
  hashed ? CID.createV1(codec, sha256.digest(bytes) as Awaited<ReturnType<typeof sha256.digest>>) : CID.createV1(codec, identity.digest(bytes)))

describe('CID text without the multiformats string cache', () => {
  it('prints and parses exactly as multiformats does', () => {
    fc.assert(fc.property(cidArb, (cid) => {
      assert.equal(cidString(cid), cid.toString())
      assert.ok(parseCid(cidString(cid)).equals(cid))
    }), { numRuns: 2000 })
    const v0 = CID.parse('QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n')
    assert.equal(cidString(v0), v0.toString())
    assert.ok(parseCid(v0.toString()).equals(v0))
    // A v0 multihash written in base32 is refused, as multiformats refuses it.
    const v0In32 = base32.encode(v0.bytes)
    assert.throws(() => CID.parse(v0In32))
    assert.equal(tryParseCid(v0In32), undefined)
  })

  it('refuses what multiformats refuses', () => {
    const good = cidString(CID.createV1(0x71, sha256.digest(new Uint8Array([1])) as Awaited<ReturnType<typeof sha256.digest>>))
    const mutations = fc.tuple(fc.nat(good.length - 1), fc.constantFrom('a', 'z', '7', '8', '1', 'A', '=', ' ', 'é', ''))
      .map(([i, c]) => good.slice(0, i) + c + good.slice(i + 1))
    fc.assert(fc.property(fc.oneof(mutations, fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }).map(s => 'b' + s)), (text) => {
      let expected: string | undefined
      try { expected = CID.parse(text).toString() } catch { expected = undefined }
      assert.equal(tryParseCid(text)?.toString(), expected, JSON.stringify(text))
    }), { numRuns: 5000 })
  })

  it('reads CIDv1 sha2-256 text in place into the same CID as multiformats, each in bytes of its own', () => {
    const parsed: CID[] = []
    const expected: CID[] = []
    fc.assert(fc.property(fc.constantFrom(0x55, 0x70, 0x71), fc.uint8Array({ maxLength: 64 }), (codec, bytes) => {
      const reference = CID.createV1(codec, sha256.digest(bytes) as Awaited<ReturnType<typeof sha256.digest>>)
      const cid = parseCid(reference.toString())
      assert.equal(cid.version, 1)
      assert.equal(cid.code, codec)
      assert.equal(cid.multihash.code, reference.multihash.code)
      assert.equal(cid.multihash.size, 32)
      assert.deepEqual([...cid.multihash.digest], [...reference.multihash.digest])
      assert.deepEqual([...cid.multihash.bytes], [...reference.multihash.bytes])
      assert.deepEqual([...cid.bytes], [...reference.bytes])
      assert.ok(CID.asCID(cid)?.equals(reference))
      assert.ok(cidOf(bytes, codec).equals(reference))
      parsed.push(cid, cidOf(bytes, codec))
      expected.push(reference, reference)
    }), { numRuns: 1000 })
    // Views into shared slabs: none overwrote another.
    parsed.forEach((cid, i) => { assert.ok(cid.equals(expected[i]), `CID ${i} changed`) })
  })

  it('hands out slab views that never overlap', () => {
    const views = Array.from({ length: 2000 }, (_, i) => {
      const view = smallBytes(1 + (i % 130))
      assert.ok(view.every(b => b === 0), 'a new view is zero-filled')
      view.fill(i & 0xff)
      return view
    })
    views.forEach((view, i) => { assert.ok(view.every(b => b === (i & 0xff)), `view ${i} was overwritten`) })
  })
})
