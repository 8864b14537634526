import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { cidString, parseCid, tryParseCid } from '../../src/core/codec.ts'

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
})
