import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'
import type { Block } from './codec.ts'

/**
 * CAR v1 framing (ipld.io/specs/transport/car/carv1): a header section `{ version: 1, roots }`,
 * then one section per block, each `varint(length) ‖ bytes`, a block's bytes being its CID's
 * bytes then its data. Written here rather than through `@ipld/car`'s CarWriter because the
 * writer passes every block through an async channel three writes at a time; framing a block is
 * one copy. The bytes are the writer's (test/core/car.test.ts compares them).
 */
function section (parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.byteLength
  const head = varint.encodingLength(length)
  const out = new Uint8Array(head + length)
  varint.encodeTo(length, out, 0)
  let at = head
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

export const carHeader = (root: CID): Uint8Array => section([dagCbor.encode({ version: 1, roots: [root] })])
export const carBlock = (block: Block): Uint8Array => section([block.cid.bytes, block.bytes])

export interface CarStreamOptions {
  /** Blocks are coalesced into chunks of at least this many bytes (the last one may be shorter). Default 64 KiB. */
  chunkBytes?: number
}

/**
 * A CAR v1 with one root, streamed as `blocks` are read (in their order), in chunks of about
 * `chunkBytes`. An error of `blocks` ends the stream with that error, after the chunks already
 * given out.
 */
export async function * carStream (root: CID, blocks: AsyncIterable<Block> | Iterable<Block>, options: CarStreamOptions = {}): AsyncGenerator<Buffer> {
  const chunkBytes = options.chunkBytes ?? 64 * 1024
  let pending: Uint8Array[] = [carHeader(root)]
  let size = pending[0]?.byteLength ?? 0
  const take = (): Buffer => {
    const one = pending[0] as Uint8Array
    const out = pending.length === 1 ? Buffer.from(one.buffer, one.byteOffset, one.byteLength) : Buffer.concat(pending, size)
    pending = []
    size = 0
    return out
  }
  for await (const block of blocks) {
    const bytes = carBlock(block)
    pending.push(bytes)
    size += bytes.byteLength
    if (size >= chunkBytes) yield take()
  }
  if (size > 0) yield take()
}
