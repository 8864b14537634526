import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'
import type { TreeNode } from './types.ts'

// A tree node has exactly one canonical DAG-CBOR form: map(3) with keys in length-then-bytes
// order ("keys", "level", "values"), definite lengths, minimal integer headers, and each value
// a tag-42 byte string holding 0x00 + the CID bytes. Writing and reading that one layout by hand
// is several times faster than the generic codec, and reading it rejects every other encoding.

const KEYS_FIELD = [0x64, 0x6b, 0x65, 0x79, 0x73] // text(4) "keys"
const LEVEL_FIELD = [0x65, 0x6c, 0x65, 0x76, 0x65, 0x6c] // text(5) "level"
const VALUES_FIELD = [0x66, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x73] // text(6) "values"
const MAP_OF_3 = 0xa3
const UINT = 0
const BYTES = 2
const TEXT = 3
const ARRAY = 4
const TAG = 6
const CID_TAG = 42

function headerSize (value: number): number {
  return value < 24 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x100000000 ? 5 : 9
}

function writeHeader (out: Uint8Array, pos: number, major: number, value: number): number {
  const m = major << 5
  if (value < 24) {
    out[pos] = m | value
    return pos + 1
  }
  if (value < 0x100) {
    out[pos] = m | 24
    out[pos + 1] = value
    return pos + 2
  }
  if (value < 0x10000) {
    out[pos] = m | 25
    out[pos + 1] = value >>> 8
    out[pos + 2] = value & 0xff
    return pos + 3
  }
  if (value < 0x100000000) {
    out[pos] = m | 26
    new DataView(out.buffer, out.byteOffset).setUint32(pos + 1, value)
    return pos + 5
  }
  out[pos] = m | 27
  new DataView(out.buffer, out.byteOffset).setBigUint64(pos + 1, BigInt(value))
  return pos + 9
}

/** UTF-8 length of a well-formed string. */
function utf8Length (text: string): number {
  let length = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x80) length += c < 0x800 ? 1 : (c >= 0xd800 && c <= 0xdbff) ? 0 : 2
  }
  return length
}

/** Writes a well-formed string as UTF-8 (a surrogate pair is 2 units in, 4 bytes out). */
function writeUtf8 (out: Uint8Array, pos: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) {
      out[pos++] = c
    } else if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6)
      out[pos++] = 0x80 | (c & 0x3f)
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00)
      out[pos++] = 0xf0 | (cp >> 18)
      out[pos++] = 0x80 | ((cp >> 12) & 0x3f)
      out[pos++] = 0x80 | ((cp >> 6) & 0x3f)
      out[pos++] = 0x80 | (cp & 0x3f)
    } else {
      out[pos++] = 0xe0 | (c >> 12)
      out[pos++] = 0x80 | ((c >> 6) & 0x3f)
      out[pos++] = 0x80 | (c & 0x3f)
    }
  }
  return pos
}

/** A node's values as the encoder reads them: the bytes of the `i`-th CID, its length and a copy. */
interface ValueBytes {
  length: (i: number) => number
  copy: (i: number, out: Uint8Array, pos: number) => void
}

/** The canonical DAG-CBOR bytes of a valid node (keys well-formed, values CIDs). */
export function encodeNodeBytes (node: TreeNode): Uint8Array {
  const values = node.values
  return encodeNodeOf(node.level, node.keys, {
    length: (i) => (values[i] as CID).bytes.byteLength,
    copy: (i, out, pos) => { out.set((values[i] as CID).bytes, pos) }
  })
}

/**
 * `encodeNodeBytes` of a node whose values are CIDs packed in one buffer, `width` bytes each,
 * the `i`-th at `(first + i) * width`: no CID object per value (an import's leaves).
 */
export function encodePackedNodeBytes (level: number, keys: readonly string[], cids: Uint8Array, first: number, width: number): Uint8Array {
  const packed = Buffer.from(cids.buffer, cids.byteOffset, cids.byteLength)
  return encodeNodeOf(level, keys, {
    length: () => width,
    copy: (i, out, pos) => { packed.copy(out, pos, (first + i) * width, (first + i + 1) * width) }
  })
}

function encodeNodeOf (level: number, keys: readonly string[], values: ValueBytes): Uint8Array {
  const n = keys.length
  const keyLengths: number[] = []
  let size = 1 + KEYS_FIELD.length + headerSize(n) + LEVEL_FIELD.length + headerSize(level) + VALUES_FIELD.length + headerSize(n)
  for (let i = 0; i < n; i++) {
    const length = utf8Length(keys[i] as string)
    keyLengths.push(length)
    const cidLength = values.length(i) + 1
    size += headerSize(length) + length + 2 + headerSize(cidLength) + cidLength
  }
  const bytes = new Uint8Array(size)
  let pos = 0
  bytes[pos++] = MAP_OF_3
  for (const b of KEYS_FIELD) bytes[pos++] = b
  pos = writeHeader(bytes, pos, ARRAY, n)
  for (let i = 0; i < n; i++) {
    pos = writeHeader(bytes, pos, TEXT, keyLengths[i] as number)
    pos = writeUtf8(bytes, pos, keys[i] as string)
  }
  for (const b of LEVEL_FIELD) bytes[pos++] = b
  pos = writeHeader(bytes, pos, UINT, level)
  for (const b of VALUES_FIELD) bytes[pos++] = b
  pos = writeHeader(bytes, pos, ARRAY, n)
  for (let i = 0; i < n; i++) {
    const length = values.length(i)
    pos = writeHeader(bytes, pos, TAG, CID_TAG)
    pos = writeHeader(bytes, pos, BYTES, length + 1)
    bytes[pos++] = 0 // multibase identity prefix of a DAG-CBOR link
    values.copy(i, bytes, pos)
    pos += length
  }
  return bytes
}

/** Thrown inside the parser only; `parseNodeBytes` turns it into a reason string. */
class Malformed extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

class Reader {
  readonly bytes: Uint8Array
  readonly #text: Buffer
  pos = 0

  constructor (bytes: Uint8Array) {
    this.bytes = bytes
    this.#text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  need (count: number): void {
    if (count > this.bytes.byteLength - this.pos) throw new Malformed('truncated')
  }

  /** Reads a header of the given major type, insisting on the shortest form. */
  header (major: number, what: string): number {
    this.need(1)
    const first = this.bytes[this.pos++] as number
    if (first >> 5 !== major) throw new Malformed(`expected ${what}`)
    const info = first & 31
    if (info < 24) return info
    const b = this.bytes
    let value: number
    let min: number
    if (info === 24) {
      this.need(1)
      value = b[this.pos] as number
      min = 24
      this.pos += 1
    } else if (info === 25) {
      this.need(2)
      value = ((b[this.pos] as number) << 8) | (b[this.pos + 1] as number)
      min = 0x100
      this.pos += 2
    } else if (info === 26) {
      this.need(4)
      value = new DataView(b.buffer, b.byteOffset).getUint32(this.pos)
      min = 0x10000
      this.pos += 4
    } else if (info === 27) {
      this.need(8)
      const big = new DataView(b.buffer, b.byteOffset).getBigUint64(this.pos)
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Malformed(`${what} is too large`)
      value = Number(big)
      min = 0x100000000
      this.pos += 8
    } else {
      throw new Malformed(`expected ${what} of definite length`)
    }
    if (value < min) throw new Malformed(`${what} is not minimally encoded`)
    return value
  }

  literal (expected: readonly number[], what: string): void {
    this.need(expected.length)
    for (const b of expected) {
      if (this.bytes[this.pos++] !== b) throw new Malformed(`expected field ${what}`)
    }
  }

  text (): string {
    const length = this.header(TEXT, 'a string key')
    this.need(length)
    const start = this.pos
    this.pos += length
    const b = this.bytes
    let ascii = true
    for (let i = start; i < start + length; i++) {
      if ((b[i] as number) >= 0x80) {
        ascii = false
        break
      }
    }
    if (ascii) return this.#text.toString('latin1', start, start + length)
    try {
      return utf8.decode(b.subarray(start, start + length))
    } catch {
      throw new Malformed('a key is not valid UTF-8')
    }
  }

  /**
   * Checks the link at the current position and steps over it. Returns the CID for the rare
   * links off the fast path (decoded here to check them), else undefined: the caller makes those
   * from the bytes when asked for (`ParsedValues.at`).
   */
  link (out: Uint32Array, i: number): CID | undefined {
    if (this.header(TAG, 'a CID tag') !== CID_TAG) throw new Malformed('expected a CID tag')
    const length = this.header(BYTES, 'CID bytes')
    this.need(length)
    const b = this.bytes
    if (length < 2 || b[this.pos] !== 0) throw new Malformed('a CID lacks its 0x00 prefix')
    const start = this.pos + 1
    this.pos += length
    out[2 * i] = start
    out[2 * i + 1] = length - 1
    // The usual CIDv1 with a one-byte codec and a sha2-256 digest: canonical by construction.
    if (length === 37 && b[start] === 1 && (b[start + 1] as number) < 0x80 && b[start + 2] === 0x12 && b[start + 3] === 32) return undefined
    const raw = b.subarray(start, start + length - 1)
    let cid: CID
    try {
      cid = CID.decode(raw)
    } catch {
      throw new Malformed('a value is not a valid CID')
    }
    const canonical = cid.bytes
    if (canonical.byteLength !== raw.byteLength) throw new Malformed('a CID is not minimally encoded')
    for (let j = 0; j < raw.byteLength; j++) {
      if (canonical[j] !== raw[j]) throw new Malformed('a CID is not minimally encoded')
    }
    return cid
  }
}

/**
 * The values of a node read from its canonical bytes: checked at once, but made into CIDs only when
 * asked for, one by one (`valueAt`) or all together (the node's `values`). A diff or a lookup reads
 * a few values of each node it passes, and making all 32 CIDs of every node (each three typed-array
 * views) was most of a diff's time and garbage. The CIDs are views into a private copy of the
 * values, so later changes to the parsed bytes cannot alter them.
 */
class ParsedValues {
  /** The values region, copied. */
  readonly bytes: Uint8Array
  /** Start and length of each value's CID bytes in `bytes`. */
  readonly spans: Uint32Array
  readonly cids: Array<CID | undefined>
  all: CID[] | undefined

  constructor (bytes: Uint8Array, spans: Uint32Array, cids: Array<CID | undefined>) {
    this.bytes = bytes
    this.spans = spans
    this.cids = cids
  }

  list (): CID[] {
    if (this.all === undefined) {
      const all: CID[] = []
      for (let i = 0; i < this.cids.length; i++) all.push(this.at(i))
      this.all = all
    }
    return this.all
  }

  at (i: number): CID {
    let cid = this.cids[i]
    if (cid === undefined) {
      const start = this.spans[2 * i] as number
      const raw = this.bytes.subarray(start, start + (this.spans[2 * i + 1] as number))
      cid = new CID(1, raw[1] as number, new Digest(0x12, 32, raw.subarray(4), raw.subarray(2)), raw)
      this.cids[i] = cid
    }
    return cid
  }

  /** True when value `i` here and value `j` of `other` are the same CID. */
  same (i: number, other: ParsedValues, j: number): boolean {
    const length = this.spans[2 * i + 1] as number
    if (length !== other.spans[2 * j + 1]) return false
    const a = this.bytes
    const b = other.bytes
    const x = this.spans[2 * i] as number
    const y = other.spans[2 * j] as number
    // From the end: CIDs that differ almost always differ in the digest's last bytes.
    for (let k = length - 1; k >= 0; k--) {
      if (a[x + k] !== b[y + k]) return false
    }
    return true
  }
}

/** The parsed values behind each node `parseNodeBytes` made (the node itself stays a plain value object). */
const PARSED = new WeakMap<TreeNode, ParsedValues>()

/** Value `i` of a node, made only when asked for if the node was parsed. */
export function valueAt (node: TreeNode, i: number): CID {
  const parsed = PARSED.get(node)
  return parsed !== undefined ? parsed.at(i) : node.values[i] as CID
}

/** True when value `i` of `a` and value `j` of `b` are the same CID, without making CIDs of parsed nodes. */
export function sameValue (a: TreeNode, i: number, b: TreeNode, j: number): boolean {
  const pa = PARSED.get(a)
  const pb = PARSED.get(b)
  if (pa !== undefined && pb !== undefined) return pa.same(i, pb, j)
  return valueAt(a, i).equals(valueAt(b, j))
}

/**
 * Parses the canonical encoding of a node, checking only the encoding (the caller checks key
 * order and the other shape rules). Returns the reason when `bytes` is anything else.
 */
export function parseNodeBytes (bytes: Uint8Array): TreeNode | string {
  let r = new Reader(bytes)
  try {
    r.need(1)
    if (r.bytes[r.pos++] !== MAP_OF_3) throw new Malformed('expected a map of exactly keys, level, values')
    r.literal(KEYS_FIELD, 'keys')
    const n = r.header(ARRAY, 'a list of keys')
    if (n > r.bytes.byteLength) throw new Malformed('truncated')
    const keys: string[] = []
    for (let i = 0; i < n; i++) keys.push(r.text())
    r.literal(LEVEL_FIELD, 'level')
    const level = r.header(UINT, 'a non-negative integer level')
    r.literal(VALUES_FIELD, 'values')
    if (r.header(ARRAY, 'a list of values') !== n) throw new Malformed('keys and values differ in length')
    // The values are kept as a private copy of their bytes (the keys are strings, copies already).
    r = new Reader(bytes.slice(r.pos))
    const spans = new Uint32Array(2 * n)
    const cids: Array<CID | undefined> = new Array(n)
    for (let i = 0; i < n; i++) {
      const cid = r.link(spans, i)
      if (cid !== undefined) cids[i] = cid
    }
    if (r.pos !== r.bytes.byteLength) throw new Malformed('trailing bytes')
    const parsed = new ParsedValues(r.bytes, spans, cids)
    const node: TreeNode = { level, keys, get values (): CID[] { return parsed.list() } }
    PARSED.set(node, parsed)
    return node
  } catch (err) {
    if (err instanceof Malformed) return err.message
    throw err
  }
}
