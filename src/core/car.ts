import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import type { Block } from './block.ts'

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
  /**
   * Blocks are written into chunks of this many bytes, each given out when the next block does
   * not fit (a block larger than that gets a chunk of its own). Default 64 KiB.
   */
  chunkBytes?: number
}

/**
 * A CAR v1 with one root, streamed as `blocks` are read (in their order), in chunks of about
 * `chunkBytes`: each block is framed straight into its chunk, one copy. An error of `blocks` ends
 * the stream with that error, after the chunks already given out.
 */
export async function * carStream (root: CID, blocks: AsyncIterable<Block> | Iterable<Block>, options: CarStreamOptions = {}): AsyncGenerator<Buffer> {
  const chunkBytes = options.chunkBytes ?? 64 * 1024
  const header = carHeader(root)
  let chunk = Buffer.allocUnsafe(Math.max(chunkBytes, header.byteLength))
  chunk.set(header, 0)
  let used = header.byteLength
  for await (const block of blocks) {
    const length = block.cid.bytes.byteLength + block.bytes.byteLength
    const size = varint.encodingLength(length) + length
    if (used + size > chunk.byteLength) {
      if (used > 0) yield chunk.subarray(0, used)
      chunk = Buffer.allocUnsafe(Math.max(chunkBytes, size))
      used = 0
    }
    varint.encodeTo(length, chunk, used)
    used += size - length
    chunk.set(block.cid.bytes, used)
    used += block.cid.bytes.byteLength
    chunk.set(block.bytes, used)
    used += block.bytes.byteLength
  }
  if (used > 0) yield chunk.subarray(0, used)
}

/** Largest CAR section (one block with its CID) a reader accepts. IPFS blocks are at most a few MiB. */
export const MAX_CAR_SECTION = 16 * 1024 * 1024

export type CarContents =
  | {
    version: 1
    roots: CID[]
    /**
     * The blocks, as they come: each batch holds the blocks complete in the bytes read so far.
     * The bytes of a block are its CID's claim; checking the hash is the caller's job.
     */
    batches: AsyncGenerator<Block[]>
  }
  /** A CAR v2: the whole stream again, for a reader that knows v2. */
  | { version: 2, replay: AsyncIterable<Uint8Array> }

/**
 * Reads a CAR v1 stream: the header, then batches of blocks. Written here rather than through
 * `@ipld/car`'s CarBlockIterator for the same reason as the writer: the iterator reads each
 * varint and block through an async byte reader that copies, and a sync answer is made of
 * thousands of small blocks; here each block is a view into the chunk that holds it.
 * A CAR v2 (header version 2) is not parsed here: the result says `version: 2` and replays
 * the whole stream for a reader that knows v2.
 * Throws (and the batches throw) with a plain Error on malformed bytes; nothing is ever
 * read past a section's length or past MAX_CAR_SECTION.
 * A reader that stops early (an error, or the batches left unfinished) ends its source
 * (`return()`): an HTTP upload's body is let go, so that its rest can be drained and the error
 * answered at once.
 */
export async function readCar (source: AsyncIterable<Uint8Array>): Promise<CarContents> {
  const input = source[Symbol.asyncIterator]()
  try {
    return await readCarFrom(input)
  } catch (err) {
    await release(input)
    throw err
  }
}

/** Ends a source that was not read to its end (its own failure to end is not the reader's error). */
async function release (input: AsyncIterator<Uint8Array>): Promise<void> {
  try {
    await input.return?.()
  } catch {}
}

async function readCarFrom (input: AsyncIterator<Uint8Array>): Promise<CarContents> {
  /** The bytes being read, from `pos`; then the chunks after them, not yet read. */
  let buf: Uint8Array = new Uint8Array(0)
  let pos = 0
  const queue: Uint8Array[] = []
  let ended = false
  /** Everything read before the header was parsed (for a v2 replay). */
  let prefix: Uint8Array[] | undefined = []

  /** The next chunk of the source, as a plain Uint8Array (a Buffer's views would be Buffers, slower to take CIDs from). */
  const pull = async (): Promise<Uint8Array | undefined> => {
    const queued = queue.shift()
    if (queued != null || ended) return queued
    const next = await input.next()
    if (next.done === true) { ended = true; return undefined }
    const chunk = next.value.constructor === Uint8Array ? next.value : new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength)
    prefix?.push(chunk)
    return chunk
  }
  /** Moves on to the next chunk at hand when the current one is read to its end. */
  const advance = (): void => {
    while (pos === buf.byteLength && queue.length > 0) { buf = queue.shift() as Uint8Array; pos = 0 }
  }
  /**
   * Makes at least `n` bytes available at `pos`; false if the source ends first. A section that
   * straddles chunks is copied into one piece of exactly its size; the rest of the last chunk
   * waits in the queue, so no chunk is copied whole.
   */
  const ensure = async (n: number): Promise<boolean> => {
    advance()
    if (buf.byteLength - pos >= n) return true
    const parts = [buf.subarray(pos)]
    let have = buf.byteLength - pos
    while (have < n) {
      const chunk = await pull()
      if (chunk == null) break
      if (have === 0 && chunk.byteLength >= n) { buf = chunk; pos = 0; return true }
      const take = Math.min(chunk.byteLength, n - have)
      parts.push(chunk.subarray(0, take))
      have += take
      if (take < chunk.byteLength) queue.unshift(chunk.subarray(take))
    }
    const joined = new Uint8Array(have)
    let at = 0
    for (const p of parts) { joined.set(p, at); at += p.byteLength }
    buf = joined
    pos = 0
    return have >= n
  }
  /** A varint at `pos` from the bytes available (undefined if they end inside it). */
  const varintHere = (): { value: number, length: number } | undefined => {
    let value = 0
    let scale = 1
    for (let i = 0; i < 9; i++) {
      if (pos + i >= buf.byteLength) return undefined
      const b = buf[pos + i] as number
      value += (b & 0x7f) * scale
      if (b < 0x80) return { value, length: i + 1 }
      scale *= 128
    }
    throw new Error('CAR section length is not a valid varint')
  }
  const readVarint = async (): Promise<number | undefined> => {
    for (let want = 1; ; want++) {
      const v = varintHere()
      if (v != null) { pos += v.length; return v.value }
      if (!await ensure(want + (buf.byteLength - pos))) {
        if (buf.byteLength - pos === 0) return undefined
        throw new Error('CAR ends inside a section length')
      }
    }
  }

  const headerLength = await readVarint()
  if (headerLength == null) throw new Error('empty CAR')
  if (headerLength === 0 || headerLength > MAX_CAR_SECTION) throw new Error(`CAR header length ${headerLength} is out of range`)
  if (!await ensure(headerLength)) throw new Error('CAR ends inside its header')
  let header: { version?: unknown, roots?: unknown }
  try {
    header = dagCbor.decode(buf.subarray(pos, pos + headerLength))
  } catch (err) {
    throw new Error(`CAR header is not DAG-CBOR: ${(err as Error).message}`)
  }
  pos += headerLength
  if (header?.version === 2) {
    // Replay what was pulled so far (the queue holds only views into it), then the rest.
    const replay = prefix ?? []
    return { version: 2, replay: (async function * () { yield * replay; for (;;) { const n = await input.next(); if (n.done === true) return; yield n.value } })() }
  }
  prefix = undefined
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error('CAR header is not a map')
  if (!('version' in header)) throw new Error('CAR header has no version (a CAR v1 header is { version: 1, roots })')
  if (header.version !== 1) throw new Error(`CAR version ${typeof header.version === 'string' ? JSON.stringify(header.version) : String(header.version)} is not supported (1 and 2 are)`)
  const roots = Array.isArray(header.roots) ? header.roots.map(r => CID.asCID(r)) : null
  if (roots == null || roots.some(r => r == null)) throw new Error('CAR header roots must be a list of CIDs')

  const batches = async function * (): AsyncGenerator<Block[]> {
    let done = false
    try {
      yield * sections()
      done = true
    } finally {
      if (!done) await release(input)
    }
  }
  const sections = async function * (): AsyncGenerator<Block[]> {
    for (;;) {
      const batch: Block[] = []
      // Every section complete in the bytes at hand, without waiting for more.
      for (;;) {
        advance()
        const v = varintHere()
        if (v == null) break
        const length = v.value
        if (length === 0 || length > MAX_CAR_SECTION) throw new Error(`CAR section length ${length} is out of range`)
        if (buf.byteLength - pos - v.length < length) break
        const section = buf.subarray(pos + v.length, pos + v.length + length)
        pos += v.length + length
        let cid: CID
        let bytes: Uint8Array
        try {
          [cid, bytes] = CID.decodeFirst(section)
        } catch (err) {
          throw new Error(`CAR section does not start with a CID: ${(err as Error).message}`)
        }
        batch.push({ cid, bytes })
      }
      if (batch.length > 0) yield batch
      // Then wait for the rest of the next section.
      advance()
      const v = varintHere()
      const more = v == null ? 1 + (buf.byteLength - pos) : v.length + v.value
      if (v != null && (v.value === 0 || v.value > MAX_CAR_SECTION)) throw new Error(`CAR section length ${v.value} is out of range`)
      if (!await ensure(more)) {
        if (buf.byteLength - pos === 0) return
        throw new Error('CAR ends inside a block')
      }
    }
  }
  return { version: 1, roots: roots as CID[], batches: batches() }
}
