import type { CID } from 'multiformats/cid'
import { cidV1Sha256 } from './cid.ts'
import { MAX_JSON_TEXT_BYTES, parseJsonText } from './json-view.ts'
import { PayloadTooLargeError } from './errors.ts'
import { encodeFrame, frameFromJson, frameLinks } from './frame.ts'

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
  /** The CIDs, FRAME_CID_BYTES each, in the order of `ids`. */
  cids: Uint8Array<ArrayBuffer>
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
 * `ERR_PAYLOAD_TOO_LARGE`, with `source:line` in the message) is returned as `failure`.
 */
export function encodeFrameLines (lines: readonly string[], first: number, source: string): EncodedFrames {
  const ids: string[] = []
  const blocks: Uint8Array[] = []
  const numbers: number[] = []
  const links: EncodedFrames['links'] = []
  let cids = new Uint8Array(lines.length * FRAME_CID_BYTES)
  let total = 0
  let failure: Error | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (line.trim() === '') continue
    const lineNo = first + i
    const hint = { source: `${source}:${lineNo}` }
    let frame, block
    try {
      // The limits of `frame put`: a line is one frame's JSON text.
      if (line.length > MAX_JSON_TEXT_BYTES / 3 && Buffer.byteLength(line) > MAX_JSON_TEXT_BYTES) throw new PayloadTooLargeError(`${hint.source}: the line is longer than the limit of ${MAX_JSON_TEXT_BYTES} bytes of JSON for one frame`, { source: hint.source, line: lineNo, limit: MAX_JSON_TEXT_BYTES })
      frame = frameFromJson(parseJsonText(line, hint), hint)
      block = encodeFrame(frame, hint)
    } catch (err) {
      failure = err as Error
      break
    }
    const n = ids.length
    ids.push(frame.id)
    numbers.push(lineNo)
    blocks.push(block.bytes)
    total += block.bytes.byteLength
    cids.set(block.cid.bytes, n * FRAME_CID_BYTES)
    const linked = frameLinks(frame)
    if (linked.length > 0) links.push({ frame: n, cids: linked.map(c => c.bytes.slice()) })
  }
  const bytes = new Uint8Array(total)
  const ends = new Uint32Array(blocks.length)
  let at = 0
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i] as Uint8Array
    bytes.set(b, at)
    at += b.byteLength
    ends[i] = at
  }
  if (ids.length < lines.length) cids = cids.slice(0, ids.length * FRAME_CID_BYTES)
  const out: EncodedFrames = { lines: lines.length, ids, lineNumbers: Int32Array.from(numbers), cids, bytes, ends, links }
  if (failure !== undefined) out.failure = failure
  return out
}

/** The CID of frame `i` (a view into `frames.cids`). */
export function frameCidAt (frames: EncodedFrames, i: number): CID {
  return cidV1Sha256(frames.cids.subarray(i * FRAME_CID_BYTES, (i + 1) * FRAME_CID_BYTES))
}

/** The block bytes of frame `i` (a view into `frames.bytes`). */
export function frameBytesAt (frames: EncodedFrames, i: number): Uint8Array {
  return frames.bytes.subarray(i === 0 ? 0 : frames.ends[i - 1], frames.ends[i])
}
