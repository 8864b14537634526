import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { compareKeys } from './tree/keys.ts'

/*
 * DAG-CBOR encoding of the values framehub writes (frames, steps, commits: JSON values, links and
 * bytes) in one pass into one buffer, byte for byte what `@ipld/dag-cbor` (cborg) writes:
 * definite lengths, minimal integer headers, safe integers as integers (-0 as 0) and every other
 * number as a float64, map keys sorted by UTF-8 length then bytes, links as tag 42 over 0x00 +
 * the CID's bytes. cborg builds a token per value and sorts keys through them, which made
 * encoding the largest CPU cost of an import. Anything else (a lone surrogate, NaN, undefined, a
 * Map, a typed array other than Uint8Array, a class instance) is handed to `@ipld/dag-cbor`,
 * which encodes it or throws its own error. A property test compares both on random values.
 */

/** Nothing this encoder writes by itself: the whole value goes to `@ipld/dag-cbor`. */
const UNSUPPORTED = Symbol('unsupported')

/**
 * A growing buffer that values are encoded into, one after another (`encodeDagCborInto`): a run of
 * an import's blocks goes straight into the buffer it is handed over in.
 */
export class CborWriter {
  bytes: Uint8Array<ArrayBuffer>
  view: Buffer
  pos = 0

  /** Writes into `bytes` first (a new buffer, twice as big, once it is full). */
  constructor (bytes: Uint8Array<ArrayBuffer> = new Uint8Array(1024)) {
    this.bytes = bytes
    this.view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  reserve (n: number): void {
    if (this.pos + n <= this.bytes.byteLength) return
    let size = this.bytes.byteLength * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.bytes.subarray(0, this.pos))
    this.bytes = next
    this.view = Buffer.from(next.buffer, 0, size)
  }

  header (major: number, value: number): void {
    this.reserve(9)
    const b = this.bytes
    const m = major << 5
    if (value < 24) {
      b[this.pos++] = m | value
    } else if (value < 0x100) {
      b[this.pos++] = m | 24
      b[this.pos++] = value
    } else if (value < 0x10000) {
      b[this.pos++] = m | 25
      b[this.pos++] = value >>> 8
      b[this.pos++] = value & 0xff
    } else if (value < 0x100000000) {
      b[this.pos++] = m | 26
      this.view.writeUInt32BE(value, this.pos)
      this.pos += 4
    } else {
      b[this.pos++] = m | 27
      this.view.writeUInt32BE(Math.floor(value / 0x100000000), this.pos)
      this.view.writeUInt32BE(value >>> 0, this.pos + 4)
      this.pos += 8
    }
  }

  string (text: string, length: number): void {
    this.header(3, length)
    this.reserve(length)
    if (length === text.length && length < 64) {
      const b = this.bytes
      for (let i = 0; i < length; i++) b[this.pos++] = text.charCodeAt(i)
    } else {
      this.pos += this.view.write(text, this.pos, length, 'utf8')
    }
  }
}

/** UTF-8 length of a string, or -1 when it is not well-formed (a lone surrogate). */
function utf8Length (text: string): number {
  let length = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) { length += 1; continue }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = text.charCodeAt(i + 1)
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) return -1
      i++ // a pair: 2 units, 4 bytes
      length += 2
      continue
    }
    length += 2
  }
  return length
}

function encodeValue (w: CborWriter, value: unknown): typeof UNSUPPORTED | undefined {
  switch (typeof value) {
    case 'string': {
      const length = utf8Length(value)
      if (length < 0) return UNSUPPORTED
      w.string(value, length)
      return
    }
    case 'number':
      if (Number.isSafeInteger(value)) {
        if (value >= 0) w.header(0, value)
        else w.header(1, -1 - value)
        return
      }
      if (!Number.isFinite(value)) return UNSUPPORTED
      w.reserve(9)
      w.bytes[w.pos++] = 0xfb
      w.view.writeDoubleBE(value, w.pos)
      w.pos += 8
      return
    case 'boolean':
      w.reserve(1)
      w.bytes[w.pos++] = value ? 0xf5 : 0xf4
      return
    case 'object':
      break
    default:
      return UNSUPPORTED
  }
  if (value === null) {
    w.reserve(1)
    w.bytes[w.pos++] = 0xf6
    return
  }
  if (Array.isArray(value)) {
    w.header(4, value.length)
    for (let i = 0; i < value.length; i++) if (encodeValue(w, value[i]) === UNSUPPORTED) return UNSUPPORTED
    return
  }
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto === Uint8Array.prototype) {
    const bytes = value as Uint8Array
    w.header(2, bytes.byteLength)
    w.reserve(bytes.byteLength)
    w.bytes.set(bytes, w.pos)
    w.pos += bytes.byteLength
    return
  }
  if (proto !== Object.prototype) {
    const cid = value instanceof CID ? value : undefined
    if (cid == null) return UNSUPPORTED
    const bytes = cid.bytes
    w.reserve(2)
    w.bytes[w.pos++] = 0xd8
    w.bytes[w.pos++] = 42
    w.header(2, bytes.byteLength + 1)
    w.reserve(bytes.byteLength + 1)
    w.bytes[w.pos++] = 0
    w.bytes.set(bytes, w.pos)
    w.pos += bytes.byteLength
    return
  }
  const obj = value as Record<string, unknown>
  // A plain object that is a link's shape (`{'/': bytes, bytes}`, `asCID`) is left to dag-cbor.
  if ('asCID' in obj || ('/' in obj && 'bytes' in obj)) return UNSUPPORTED
  const keys = Object.keys(obj)
  const n = keys.length
  const lengths: number[] = new Array<number>(n)
  // Insertion sort by UTF-8 length, then UTF-8 bytes (code point order): objects have few keys.
  for (let i = 0; i < n; i++) {
    const k = keys[i] as string
    const length = utf8Length(k)
    if (length <= 0) return UNSUPPORTED // a lone surrogate, or an empty key (dag-cbor's own rules)
    let j = i
    while (j > 0 && ((lengths[j - 1] as number) > length || ((lengths[j - 1] as number) === length && compareKeys(keys[j - 1] as string, k) > 0))) {
      keys[j] = keys[j - 1] as string
      lengths[j] = lengths[j - 1] as number
      j--
    }
    keys[j] = k
    lengths[j] = length
  }
  w.header(5, n)
  for (let i = 0; i < n; i++) {
    const k = keys[i] as string
    const v = obj[k]
    if (v === undefined) return UNSUPPORTED
    w.string(k, lengths[i] as number)
    if (encodeValue(w, v) === UNSUPPORTED) return UNSUPPORTED
  }
}

/** Reused between calls (a new buffer per call cost more than the encoding); taken while in use. */
let scratch: CborWriter | undefined = new CborWriter()

/**
 * Appends the DAG-CBOR bytes of `value` to `w` (the same bytes as `encodeDagCbor`); returns where
 * they start. No buffer of their own: an import encodes a run's blocks one after another in one.
 */
export function encodeDagCborInto (w: CborWriter, value: unknown): number {
  const start = w.pos
  if (encodeValue(w, value) !== UNSUPPORTED) return start
  w.pos = start
  const bytes = dagCbor.encode(value)
  w.reserve(bytes.byteLength)
  w.bytes.set(bytes, w.pos)
  w.pos += bytes.byteLength
  return start
}

/** The DAG-CBOR bytes of `value`: the same bytes as `@ipld/dag-cbor`'s `encode`, faster for JSON-like values. */
export function encodeDagCbor (value: unknown): Uint8Array {
  const w = scratch ?? new CborWriter()
  scratch = undefined
  try {
    w.pos = 0
    if (encodeValue(w, value) === UNSUPPORTED) return dagCbor.encode(value)
    return w.bytes.slice(0, w.pos)
  } finally {
    // A writer grown past 1 MiB (a big block) is not kept.
    if (w.bytes.byteLength <= 1024 * 1024) scratch = w
  }
}
