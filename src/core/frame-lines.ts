import type { CID } from 'multiformats/cid'
import { SHA256_BLOCK_KEY_BYTES, writeBlockKey } from './block-key.ts'
import { CborWriter } from './cbor-encode.ts'
import { cidV1Sha256, DAG_CBOR, writeCidV1Sha256 } from './cid.ts'
import { MAX_JSON_TEXT_BYTES, parseJsonText } from './json-view.ts'
import { PayloadTooLargeError } from './errors.ts'
import { encodeFrameInto, frameFromJson, frameLinks } from './frame.ts'
import type { Frame } from './frame.ts'
import { compareKeys } from './tree/keys.ts'
import { BufferPool } from './buffer-pool.ts'

/** Bytes of a frame's CID as framehub writes it: CIDv1, dag-cbor, sha2-256 (1 + 1 + 2 + 32). */
export const FRAME_CID_BYTES = 36

/**
 * The frames of a run of NDJSON lines, validated, canonicalised and encoded: what an import
 * stores, packed into a few typed arrays so that a worker thread can hand them over without a
 * copy (their buffers are transferable) and without an object per frame.
 */
export interface EncodedFrames {
  /** Lines read, blank ones included (the next run starts at `first + lines`). */
  lines: number
  /** Frame ids, in input order (a later line with the same id replaces an earlier one). */
  ids: string[]
  /** Line number of each frame. */
  lineNumbers: Int32Array<ArrayBuffer>
  /**
   * Indices of the frames in id order (UTF-8 byte order, as the tree orders keys; equal ids in
   * line order): sorted where the run is encoded, so that sorting an import's runs together
   * merges sorted runs (`core/import-tree.ts`).
   */
  sorted: Uint32Array<ArrayBuffer>
  /** The CIDs, FRAME_CID_BYTES each, in the order of `ids`. */
  cids: Uint8Array<ArrayBuffer>
  /**
   * The blocks' store keys (`core/block-key.ts`), SHA256_BLOCK_KEY_BYTES each (one byte a
   * character), in the order of `ids`: made where the frames are encoded, so that the thread
   * that writes them does not.
   */
  keys: Uint8Array<ArrayBuffer>
  /** The encoded blocks one after the other; block `i` ends at `ends[i]`, and starts where `i - 1` ends. */
  bytes: Uint8Array<ArrayBuffer>
  ends: Uint32Array<ArrayBuffer>
  /** The CIDs each frame that has links depends on (links, attachments, links in the body). */
  links: Array<{ frame: number, cids: Uint8Array[] }>
  /**
   * The error of the first bad line, if any: the frames above are those of the lines before it,
   * so that a caller checking frames across runs (duplicate ids) reports problems in line order.
   */
  failure?: Error
}

/**
 * Validates and encodes NDJSON lines numbered from `first`: the same parsing, validation,
 * canonical form and DAG-CBOR encoding as `frame put`, so the CIDs are the same. Blank lines are
 * skipped. Stops at the first bad line, whose error (`ERR_JSON_INVALID`, `ERR_FRAME_INVALID`,
 * `ERR_PAYLOAD_TOO_LARGE`, with `source:line` in the message) is returned as `failure`. The
 * blocks go into `into` when they fit (`bytes` is then a view of it), else into a new buffer.
 */
export function encodeFrameLines (lines: readonly string[], first: number, source: string, into?: Uint8Array<ArrayBuffer>): EncodedFrames {
  const ids: string[] = []
  const numbers: number[] = []
  const links: EncodedFrames['links'] = []
  let cids = new Uint8Array(lines.length * FRAME_CID_BYTES)
  let keys = new Uint8Array(lines.length * SHA256_BLOCK_KEY_BYTES)
  let ends = new Uint32Array(lines.length)
  // The blocks go one after another into the run's buffer, as they are encoded: no buffer of
  // their own to allocate, copy from and collect.
  const w = new CborWriter(into)
  let failure: Error | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (line.trim() === '') continue
    const lineNo = first + i
    const frame = encodeLine(line, lineNo, source, w)
    if (frame instanceof Error) {
      failure = frame
      break
    }
    const n = ids.length
    ids.push(frame.id)
    numbers.push(lineNo)
    writeCidV1Sha256(w.bytes.subarray(n === 0 ? 0 : ends[n - 1], w.pos), DAG_CBOR, cids, n * FRAME_CID_BYTES)
    // The key is made of the multihash: the CID's bytes after its version and codec.
    writeBlockKey(cids.subarray(n * FRAME_CID_BYTES + 2, (n + 1) * FRAME_CID_BYTES), keys, n * SHA256_BLOCK_KEY_BYTES)
    ends[n] = w.pos
    const linked = frameLinks(frame)
    if (linked.length > 0) links.push({ frame: n, cids: linked.map(c => c.bytes.slice()) })
  }
  if (ids.length < lines.length) {
    cids = cids.slice(0, ids.length * FRAME_CID_BYTES)
    keys = keys.slice(0, ids.length * SHA256_BLOCK_KEY_BYTES)
    ends = ends.slice(0, ids.length)
  }
  // Up to the end of the last frame stored (a failed line leaves nothing of its own).
  const bytes = w.bytes.subarray(0, ids.length === 0 ? 0 : ends[ids.length - 1])
  const out: EncodedFrames = { lines: lines.length, ids, lineNumbers: Int32Array.from(numbers), sorted: sortedOrder(ids), cids, keys, bytes, ends, links }
  if (failure !== undefined) out.failure = failure
  return out
}

/**
 * One line's frame, its block appended to `w`, or the error that refuses it (`w` is then as it
 * was). A function of its own, not the body of `encodeFrameLines`' loop: V8 then optimises it
 * once, as it is called, rather than compiling the whole loop with everything inlined on stack
 * replacement, again for the code after the loop, and once more when it is next called
 * (measured: about 40 ms less for 100k lines in a fresh process).
 */
function encodeLine (line: string, lineNo: number, source: string, w: CborWriter): Frame | Error {
  const hint = { source: `${source}:${lineNo}` }
  try {
    // The limits of `frame put`: a line is one frame's JSON text.
    if (line.length > MAX_JSON_TEXT_BYTES / 3 && Buffer.byteLength(line) > MAX_JSON_TEXT_BYTES) throw new PayloadTooLargeError(`${hint.source}: the line is longer than the limit of ${MAX_JSON_TEXT_BYTES} bytes of JSON for one frame`, { source: hint.source, line: lineNo, limit: MAX_JSON_TEXT_BYTES })
    const frame = frameFromJson(parseJsonText(line, hint), hint)
    encodeFrameInto(frame, w, hint)
    return frame
  } catch (err) {
    return err as Error
  }
}

const ABOVE_SURROGATES = /[\uD800-\uFFFF]/

/** Indices of `ids` in UTF-8 byte order (stable). */
function sortedOrder (ids: readonly string[]): Uint32Array<ArrayBuffer> {
  const order = Array.from(ids, (_, i) => i)
  // Native (UTF-16) order equals byte order unless an id has a surrogate or a char in U+E000..U+FFFF.
  if (ids.some(id => ABOVE_SURROGATES.test(id))) order.sort((a, b) => compareKeys(ids[a] as string, ids[b] as string))
  else order.sort((a, b) => (ids[a] as string) < (ids[b] as string) ? -1 : (ids[a] as string) > (ids[b] as string) ? 1 : 0)
  return Uint32Array.from(order)
}

/**
 * The lines of NDJSON text, split at LF, CRLF or a lone CR as `readline` splits them; a line break
 * at the end starts no line.
 */
export function ndjsonLines (text: string): string[] {
  const lines = text.split(LINE_BREAK)
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines
}

const LINE_BREAK = /\r\n|\n|\r/

/**
 * Most bytes of NDJSON decoded into one string. V8 puts a string over about 128 KiB in its
 * large-object space, on pages of its own that the system maps and zeroes for it: decoding an
 * import's 512 KiB runs in one string each took 17 times as long as in pieces of 32 KiB
 * (about 170 ms against 10 ms for 50 MB, measured on this project's 2-core machine).
 */
const DECODE_PIECE_BYTES = 32 * 1024

/**
 * `ndjsonLines` of UTF-8 bytes, decoded a piece at a time (`DECODE_PIECE_BYTES`, cut after a LF
 * so that no character or CRLF is cut): the same lines as decoding them in one string.
 */
export function ndjsonLinesOfBytes (bytes: Uint8Array): string[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const lines: string[] = []
  for (let start = 0; start < buf.byteLength;) {
    let end = buf.byteLength
    if (end - start > DECODE_PIECE_BYTES) {
      const lf = buf.lastIndexOf(LF, start + DECODE_PIECE_BYTES - 1)
      end = lf >= start ? lf + 1 : buf.indexOf(LF, start + DECODE_PIECE_BYTES) + 1
      if (end === 0) end = buf.byteLength
    }
    for (const line of ndjsonLines(buf.toString('utf8', start, end))) lines.push(line)
    start = end
  }
  return lines
}

const LF = 10

/** `encodeFrameLines` of UTF-8 NDJSON bytes that hold whole lines (`core/ndjson-runs.ts` cuts them). */
export function encodeFrameBytes (bytes: Uint8Array, first: number, source: string, into?: Uint8Array<ArrayBuffer>): EncodedFrames {
  return encodeFrameLines(ndjsonLinesOfBytes(bytes), first, source, into)
}

/**
 * Buffers that an import's encoders put a run's blocks into, handed back once LevelDB has them
 * (`services/frame-import.ts`): fresh memory costs the system a mapping and zeroing per page
 * (see `BufferPool`). A run of about 512 KiB of NDJSON encodes into less than
 * ENCODED_BUFFER_BYTES; a bigger one gets a buffer of its own.
 */
export const encodedBuffers = new BufferPool(8, 1024 * 1024)

/** Size of the buffers in `encodedBuffers`. */
export const ENCODED_BUFFER_BYTES = 1024 * 1024

/** The CID of frame `i` (a view into `frames.cids`). */
export function frameCidAt (frames: Pick<EncodedFrames, 'cids'>, i: number): CID {
  return cidV1Sha256(frames.cids.subarray(i * FRAME_CID_BYTES, (i + 1) * FRAME_CID_BYTES))
}

/**
 * The store keys of the blocks (`core/block-key.ts`) as one text: frame `i`'s key is
 * `text.slice(i * SHA256_BLOCK_KEY_BYTES, (i + 1) * SHA256_BLOCK_KEY_BYTES)` (a slice, not a copy).
 */
export function frameKeyText (frames: EncodedFrames): string {
  return Buffer.from(frames.keys.buffer, frames.keys.byteOffset, frames.keys.byteLength).toString('latin1')
}

/** The block bytes of frame `i` (a view into `frames.bytes`). */
export function frameBytesAt (frames: EncodedFrames, i: number): Uint8Array {
  return frames.bytes.subarray(i === 0 ? 0 : frames.ends[i - 1], frames.ends[i])
}
