import assert from 'node:assert/strict'
import { it } from 'node:test'
import fc from 'fast-check'
import { cidOf, RAW } from '../../src/core/codec.ts'
import { blockKey, blockKeyReference } from '../../src/storage/level-db.ts'

it('blockKey gives exactly the blockstore-level key (base32upper of the multihash)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, raw) => {
    const cid = cidOf(bytes, raw ? RAW : 0x71)
    assert.equal(blockKey(cid), blockKeyReference(cid))
  }), { numRuns: 500 })
})
