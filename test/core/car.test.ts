import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { carStream } from '../../src/core/car.ts'
import type { Block } from '../../src/core/codec.ts'

async function block (value: unknown, codec: { code: number, encode: (v: never) => Uint8Array } = dagCbor): Promise<Block> {
  const bytes = codec.encode(value as never)
  return { cid: CID.createV1(codec.code, await sha256.digest(bytes)), bytes }
}

async function concat (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  return Buffer.concat(parts)
}

describe('carStream: CAR v1 framing', () => {
  it('writes the same bytes as @ipld/car\'s CarWriter, whatever the chunk size', async () => {
    const blocks: Block[] = [await block({ hello: 'world' }), await block(new Uint8Array(300_000).fill(7), raw), await block(new Uint8Array(0), raw)]
    for (let i = 0; i < 200; i++) blocks.push(await block({ i, pad: 'x'.repeat(i) }))
    const root = blocks[0]?.cid as CID
    const { writer, out } = CarWriter.create([root])
    const expected = concat(out)
    for (const b of blocks) await writer.put(b)
    await writer.close()
    const reference = await expected
    for (const chunkBytes of [1, 100, 64 * 1024, 10 * 1024 * 1024]) {
      const chunks: Uint8Array[] = []
      for await (const c of carStream(root, blocks, { chunkBytes })) chunks.push(c)
      assert.deepEqual(Buffer.concat(chunks), Buffer.from(reference), `chunkBytes ${chunkBytes}`)
      if (chunkBytes === 64 * 1024) assert.ok(chunks.length < 10, 'small blocks are coalesced')
    }
    const read: string[] = []
    for await (const b of await CarBlockIterator.fromIterable(carStream(root, blocks))) read.push(b.cid.toString())
    assert.deepEqual(read, blocks.map(b => b.cid.toString()))
  })

  it('ends with the error of its source, after what was written', async () => {
    const good = await block({ a: 1 })
    const source = (async function * () { yield good; throw new Error('source broke') })()
    const seen: Uint8Array[] = []
    await assert.rejects(async () => { for await (const c of carStream(good.cid, source, { chunkBytes: 1 })) seen.push(c) }, /source broke/)
    assert.ok(seen.length >= 1)
  })
})
