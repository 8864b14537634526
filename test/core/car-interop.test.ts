/**
 * framehub's CAR reader (src/core/car.ts) on CARs written by other writers: `ipfs-car` (UnixFS,
 * dag-pb with raw leaves, CIDv1), and `@ipld/car`'s CarWriter over dag-pb blocks under a CIDv0
 * root (what go-ipfs / kubo wrote by default). It must give the same roots and the same blocks, in
 * the same order, as `@ipld/car`'s CarBlockIterator, whatever the chunking of the bytes; and a
 * snapshot import of such a CAR (a UnixFS dag-pb root) must store the whole DAG.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import * as UnixFSWriter from '@ipld/unixfs'
import { withMaxChunkSize } from '@ipld/unixfs/file/chunker/fixed'
import { withWidth } from '@ipld/unixfs/file/layout/balanced'
import { UnixFS } from 'ipfs-unixfs'
import { CAREncoderStream, createDirectoryEncoderStream, createFileEncoderStream } from 'ipfs-car'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { readCar } from '../../src/core/car.ts'
import type { Block } from '../../src/core/block.ts'
import { tempNode } from '../helpers/repo.ts'

/** Seeded bytes (not all one value, so that UnixFS chunks differ). */
function bytesOf (size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff }
  return out
}

async function collect (chunks: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of chunks as AsyncIterable<Uint8Array>) parts.push(c)
  return Buffer.concat(parts)
}

/** Blocks from an ipfs-car encoder stream, then the CAR ipfs-car writes of them with the last (the root) as its root. */
async function ipfsCar (encoder: ReadableStream<{ cid: unknown, bytes: Uint8Array }>): Promise<{ car: Uint8Array, root: CID, count: number }> {
  const blocks: Array<{ cid: unknown, bytes: Uint8Array }> = []
  for await (const b of encoder as unknown as AsyncIterable<{ cid: unknown, bytes: Uint8Array }>) blocks.push(b)
  const root = CID.asCID(blocks.at(-1)?.cid)
  assert.ok(root != null, 'ipfs-car gives the root last')
  const source = new ReadableStream({ start (c) { for (const b of blocks) c.enqueue(b); c.close() } })
  const car = await collect(source.pipeThrough(new CAREncoderStream([root as never])) as ReadableStream<Uint8Array>)
  return { car, root, count: blocks.length }
}

/** A CAR of dag-pb blocks under a CIDv0 root (a UnixFS directory of two files, one of them in two chunks), written by CarWriter. */
async function cidV0Car (): Promise<{ car: Uint8Array, root: CID, count: number }> {
  const blocks: Block[] = []
  const put = async (node: dagPb.PBNode): Promise<CID> => {
    const bytes = dagPb.encode(dagPb.prepare(node))
    const cid = CID.createV0(await sha256.digest(bytes))
    blocks.push({ cid, bytes })
    return cid
  }
  const leaf = async (data: Uint8Array): Promise<CID> => await put({ Data: new UnixFS({ type: 'file', data }).marshal(), Links: [] })
  const partA = bytesOf(3000, 1)
  const partB = bytesOf(1200, 2)
  const a = await leaf(partA)
  const b = await leaf(partB)
  const file = new UnixFS({ type: 'file', blockSizes: [BigInt(partA.length), BigInt(partB.length)] })
  const big = await put({ Data: file.marshal(), Links: [{ Hash: a, Name: '', Tsize: blocks[0]?.bytes.length }, { Hash: b, Name: '', Tsize: blocks[1]?.bytes.length }] })
  const small = await leaf(new TextEncoder().encode('hello from a CIDv0 DAG\n'))
  const root = await put({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Hash: big, Name: 'big.bin' }, { Hash: small, Name: 'hello.txt' }] })
  assert.equal(root.version, 0)
  // Root first, then the rest, as `ipfs dag export` orders them.
  const ordered = [blocks.at(-1) as Block, ...blocks.slice(0, -1)]
  const { writer, out } = CarWriter.create([root])
  const done = collect(out)
  for (const block of ordered) await writer.put(block)
  await writer.close()
  return { car: await done, root, count: ordered.length }
}

/** The bytes again, in chunks of `size` bytes (the last one shorter). */
async function * chunked (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size)
}

async function ours (bytes: Uint8Array, chunkSize: number): Promise<{ roots: string[], blocks: Array<[string, string]> }> {
  const contents = await readCar(chunked(bytes, chunkSize))
  assert.equal(contents.version, 1)
  if (contents.version !== 1) throw new Error('unreachable')
  const blocks: Array<[string, string]> = []
  for await (const batch of contents.batches) for (const b of batch) blocks.push([b.cid.toString(), Buffer.from(b.bytes).toString('base64')])
  return { roots: contents.roots.map(r => r.toString()), blocks }
}

async function theirs (bytes: Uint8Array): Promise<{ roots: string[], blocks: Array<[string, string]> }> {
  const iterator = await CarBlockIterator.fromBytes(bytes)
  const blocks: Array<[string, string]> = []
  for await (const b of iterator) blocks.push([b.cid.toString(), Buffer.from(b.bytes).toString('base64')])
  return { roots: (await iterator.getRoots()).map(r => r.toString()), blocks }
}

/** Chunk sizes the bytes are read in (1 byte on the small CIDv0 CAR: every section straddles chunks). */
const CHUNKS = [7, 100, 4096, 1 << 30]

/** ipfs-car's own settings (raw leaves, balanced layout), with 64 KiB chunks so that small files span several blocks. */
const SMALL_CHUNKS = UnixFSWriter.configure({ fileChunkEncoder: raw, smallFileEncoder: raw, chunker: withMaxChunkSize(64 * 1024), fileLayout: withWidth(1024) })

describe('readCar on CARs written by other writers', () => {
  let files: { car: Uint8Array, root: CID, count: number }
  let directory: { car: Uint8Array, root: CID, count: number }
  let v0: { car: Uint8Array, root: CID, count: number }
  before(async () => {
    // 300 KB in 64 KiB chunks: a dag-pb file node over raw leaves.
    files = await ipfsCar(createFileEncoderStream(new Blob([bytesOf(300_000, 3)]), SMALL_CHUNKS) as never)
    const dirFiles = [
      new File([bytesOf(5000, 4)], 'a.bin'),
      new File(['plain text\n'], 'notes/readme.txt'),
      new File([bytesOf(150_000, 5)], 'notes/data/big.bin')
    ]
    directory = await ipfsCar(createDirectoryEncoderStream(dirFiles, SMALL_CHUNKS) as never)
    v0 = await cidV0Car()
  })

  it('reads an ipfs-car file CAR (dag-pb root over raw leaves) as @ipld/car does, whatever the chunking', async () => {
    assert.equal(files.root.code, dagPb.code)
    const expected = await theirs(files.car)
    assert.equal(expected.blocks.length, files.count)
    assert.ok(expected.blocks.some(([cid]) => CID.parse(cid).code === raw.code), 'raw leaves')
    assert.deepEqual(expected.roots, [files.root.toString()])
    for (const size of CHUNKS) assert.deepEqual(await ours(files.car, size), expected, `chunks of ${size} bytes`)
  })

  it('reads an ipfs-car directory CAR (nested UnixFS directories) as @ipld/car does', async () => {
    const expected = await theirs(directory.car)
    assert.equal(expected.blocks.length, directory.count)
    assert.ok(expected.blocks.length >= 6, `a directory tree: ${expected.blocks.length} blocks`)
    for (const size of CHUNKS) assert.deepEqual(await ours(directory.car, size), expected, `chunks of ${size} bytes`)
  })

  it('reads a CAR of dag-pb blocks under a CIDv0 root as @ipld/car does', async () => {
    const expected = await theirs(v0.car)
    assert.deepEqual(expected.roots, [v0.root.toString()])
    assert.ok(expected.roots[0]?.startsWith('Qm'), 'a CIDv0 root')
    assert.equal(expected.blocks.length, v0.count)
    for (const size of [1, ...CHUNKS]) {
      const got = await ours(v0.car, size)
      assert.deepEqual(got, expected, `chunks of ${size} bytes`)
    }
    // The CIDs are CIDv0 as read (not turned into v1).
    const contents = await readCar(chunked(v0.car, 64))
    if (contents.version !== 1) throw new Error('a CAR v1')
    assert.equal(contents.roots[0]?.version, 0)
    for await (const batch of contents.batches) for (const b of batch) assert.equal(b.cid.version, 0)
  })
})

describe('snapshot import of UnixFS CARs from other writers', () => {
  let t: Awaited<ReturnType<typeof tempNode>>
  before(async () => { t = await tempNode() })
  after(async () => { await t.cleanup() })

  const cases: Array<[string, () => Promise<{ car: Uint8Array, root: CID, count: number }>]> = [
    ['an ipfs-car directory (dag-pb, CIDv1, raw leaves)', async () => await ipfsCar(createDirectoryEncoderStream([new File([bytesOf(200_000, 6)], 'x/big.bin'), new File(['hi\n'], 'hi.txt')], SMALL_CHUNKS) as never)],
    ['a dag-pb DAG under a CIDv0 root', cidV0Car]
  ]
  for (const [name, make] of cases) {
    it(`imports ${name}: every block stored, the DAG exported again`, async () => {
      const { car, root } = await make()
      const expected = await theirs(car)
      const stats = await t.node.snapshots.importCar(chunked(car, 1000))
      assert.equal(stats.root.toString(), root.toString())
      assert.equal(stats.blocks, expected.blocks.length)
      for (const [cid, bytes] of expected.blocks) {
        const stored = await t.node.repo.blocks.get(CID.parse(cid))
        assert.equal(Buffer.from(stored).toString('base64'), bytes, `block ${cid}`)
      }
      // Exported again: the same root and the same set of blocks.
      const again = await theirs(await collect(t.node.snapshots.exportCar(root).car))
      assert.deepEqual(again.roots, [root.toString()])
      assert.deepEqual(new Set(again.blocks.map(([cid]) => cid)), new Set(expected.blocks.map(([cid]) => cid)))
    })
  }

  it('refuses an ipfs-car CAR whose leaf is missing with ERR_DAG_INCOMPLETE, nothing stored', async () => {
    const { car, root } = await ipfsCar(createFileEncoderStream(new Blob([bytesOf(150_000, 7)]), SMALL_CHUNKS) as never)
    const all = await theirs(car)
    const leaf = all.blocks.find(([cid]) => CID.parse(cid).code === raw.code)
    assert.ok(leaf != null)
    const { writer, out } = CarWriter.create([root])
    const done = collect(out)
    for (const [cid, bytes] of all.blocks) if (cid !== leaf[0]) await writer.put({ cid: CID.parse(cid), bytes: Buffer.from(bytes, 'base64') })
    await writer.close()
    await assert.rejects(t.node.snapshots.importCar(chunked(await done, 4096)), { code: 'ERR_DAG_INCOMPLETE' })
    assert.equal(await t.node.repo.blocks.has(root), false, 'the root is not visible')
  })
})
