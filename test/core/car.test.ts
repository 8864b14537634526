import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { varint } from 'multiformats'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { carStream, MAX_CAR_SECTION, readCar } from '../../src/core/car.ts'
import type { Block } from '../../src/core/block.ts'

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

  it('readCar gives back the blocks whatever the chunking, and fails cleanly on every truncation', async () => {
    const blocks: Block[] = []
    for (let i = 0; i < 40; i++) blocks.push(await block({ i, pad: 'y'.repeat(i * 7) }))
    blocks.push(await block(new Uint8Array(5000).fill(3), raw))
    const root = blocks[0]?.cid as CID
    const bytes = await concat(carStream(root, blocks))
    const readAll = async (chunks: Uint8Array[]): Promise<Block[]> => {
      const car = await readCar((async function * () { yield * chunks })())
      assert.equal(car.version, 1)
      if (car.version !== 1) throw new Error('v1')
      assert.deepEqual(car.roots.map(String), [root.toString()])
      const out: Block[] = []
      for await (const batch of car.batches) out.push(...batch)
      return out
    }
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: bytes.length }), { maxLength: 12 }), async (cuts) => {
      const at = [...new Set(cuts)].sort((a, b) => a - b)
      const chunks: Uint8Array[] = []
      let from = 0
      for (const c of [...at, bytes.length]) { if (c > from) chunks.push(bytes.subarray(from, c)); from = c }
      const got = await readAll(chunks)
      assert.deepEqual(got.map(b => b.cid.toString()), blocks.map(b => b.cid.toString()))
      assert.deepEqual(got.map(b => Buffer.from(b.bytes)), blocks.map(b => Buffer.from(b.bytes)))
    }), { numRuns: 200 })
    // Every proper prefix either reads a shorter list of whole blocks or throws; never a partial block.
    for (let n = 0; n < bytes.length; n += 37) {
      try {
        const got = await readAll([bytes.subarray(0, n)])
        assert.ok(got.length < blocks.length)
        got.forEach((b, i) => assert.deepEqual(Buffer.from(b.bytes), Buffer.from(blocks[i]?.bytes as Uint8Array)))
      } catch (err) {
        assert.match((err as Error).message, /CAR|varint|CID|header|version/i, `prefix ${n}`)
      }
    }
  })

  it('readCar refuses bad headers and sections without reading past them', async () => {
    const good = await block({ a: 1 })
    const header = await concat(carStream(good.cid, []))
    const one = async (bytes: Uint8Array): Promise<unknown> => {
      const car = await readCar((async function * () { yield bytes })())
      if (car.version === 1) for await (const _ of car.batches) { /* read on */ }
      return car
    }
    const withVarint = (n: number): Uint8Array => { const v = new Uint8Array(varint.encodingLength(n)); varint.encodeTo(n, v, 0); return v }
    await assert.rejects(one(new Uint8Array(0)), /empty CAR/)
    await assert.rejects(one(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), /varint/)
    await assert.rejects(one(Buffer.concat([withVarint(3), Buffer.from([0xa1, 0x61])])), /header/)
    const section = (value: unknown): Uint8Array => { const b = dagCbor.encode(value); return Buffer.concat([withVarint(b.length), b]) }
    await assert.rejects(one(section({ a: 1 })), /version/)
    await assert.rejects(one(section({ version: 1, roots: 5 })), /roots/)
    await assert.rejects(one(section({ version: 1, roots: [5] })), /roots/)
    await assert.rejects(one(Buffer.concat([header, withVarint(0)])), /out of range/)
    await assert.rejects(one(Buffer.concat([header, withVarint(MAX_CAR_SECTION + 1), new Uint8Array(10)])), /out of range/)
    await assert.rejects(one(Buffer.concat([header, withVarint(5), Buffer.from([9, 9, 9, 9, 9])])), /CID/)
  })

  it('readCar ends its source when it stops early: a bad header, a bad section, batches left unread', async () => {
    const good = await block({ a: 1 })
    const other = await block({ b: 2 })
    const v1 = await concat(carStream(good.cid, [good, other]))
    const withVarint = (n: number): Uint8Array => { const v = new Uint8Array(varint.encodingLength(n)); varint.encodeTo(n, v, 0); return v }
    const section = (value: unknown): Uint8Array => { const b = dagCbor.encode(value); return Buffer.concat([withVarint(b.length), b]) }
    /** A source that is never done by itself (like an upload still arriving) and says whether it was ended. */
    const source = (first: Uint8Array): { chunks: AsyncGenerator<Uint8Array>, ended: () => boolean } => {
      let ended = false
      const chunks = (async function * () {
        try {
          yield first
          await new Promise(() => {})
        } finally {
          ended = true
        }
      })()
      return { chunks, ended: () => ended }
    }
    for (const [name, bytes, message] of [
      ['no version', section({ roots: [] }), /no version/],
      ['version 3', section({ version: 3, roots: [] }), /version 3 is not supported/],
      ['not a map', section('v1'), /not a map/],
      ['bad roots', section({ version: 1, roots: 5 }), /roots/]
    ] as const) {
      const s = source(bytes)
      await assert.rejects(readCar(s.chunks), message, name)
      assert.equal(s.ended(), true, `${name}: the source was ended`)
    }
    const bad = source(Buffer.concat([v1, withVarint(5), Buffer.from([9, 9, 9, 9, 9])]))
    const car = await readCar(bad.chunks)
    assert.equal(car.version, 1)
    if (car.version !== 1) return
    await assert.rejects((async () => { for await (const _ of car.batches) { /* read on */ } })(), /CID/)
    assert.equal(bad.ended(), true, 'a bad section ends the source')
    const left = source(v1)
    const unread = await readCar(left.chunks)
    if (unread.version !== 1) return
    // eslint-disable-next-line no-unreachable-loop -- the first batch only
    for await (const batch of unread.batches) { assert.equal(batch.length, 2); break }
    assert.equal(left.ended(), true, 'batches left unfinished end the source')
  })

  it('readCar hands a CAR v2 back for replay', async () => {
    const good = await block({ a: 1 })
    const v1 = await concat(carStream(good.cid, [good]))
    const pragma = Buffer.from('0aa16776657273696f6e02', 'hex')
    const head = Buffer.alloc(40)
    head.writeBigUInt64LE(BigInt(pragma.length + 40), 16)
    head.writeBigUInt64LE(BigInt(v1.length), 24)
    const car = await readCar((async function * () { yield pragma.subarray(0, 4); yield Buffer.concat([pragma.subarray(4), head, v1]) })())
    assert.equal(car.version, 2)
    if (car.version !== 2) return
    const replayed: Block[] = []
    for await (const b of await CarBlockIterator.fromIterable(car.replay)) replayed.push(b)
    assert.deepEqual(replayed.map(b => b.cid.toString()), [good.cid.toString()])
  })
})
