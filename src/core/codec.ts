import { hash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { base32Lower, base32LowerBytes } from './base32.ts'
import { smallBytes } from './slab.ts'
import { cborLinks } from './cbor-links.ts'
import { encodeDagCbor } from './cbor-encode.ts'
import { compareKeys } from './tree/keys.ts'
import { BlockCorruptError, BlockInvalidError, CidInvalidError, InvalidJsonError, PayloadTooLargeError } from './errors.ts'

/** A content-addressed block: the bytes and the CID that names them. */
export interface Block {
  cid: CID
  bytes: Uint8Array
}

export const SHA2_256 = 0x12
export const DAG_CBOR = dagCbor.code
export const DAG_PB = dagPb.code
export const RAW = raw.code

/**
 * The sha2-256 digest of `bytes` as 32 latin1 characters, one per byte (Node's `'binary'`). The
 * one-shot hash returns that string without allocating a Buffer: a third of the time of the
 * `'buffer'` output for a frame-sized block, and no `ArrayBuffer` for the young-generation GC to
 * sweep.
 */
function sha256Latin1 (bytes: Uint8Array): string {
  return hash('sha256', bytes, 'binary')
}

/** Does a digest given as latin1 text equal these bytes? */
function latin1Equals (text: string, bytes: Uint8Array): boolean {
  if (text.length !== bytes.byteLength) return false
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[i]) return false
  return true
}

/**
 * Largest block framehub writes or sends, bytes of encoded data: 1 MiB, the block size every IPFS
 * implementation transfers (Kubo refuses bigger blocks without `--allow-big-block`, "such blocks
 * won't be transferable over the standard bitswap"). A frame, a trace step or a commit is one
 * block, so this is also the largest frame. Checked where blocks are encoded (encodeBlock), so
 * nothing is stored that a peer could not take.
 */
export const MAX_BLOCK_BYTES = 1024 * 1024

/**
 * Longest JSON text of one frame or trace step (a file given to `frame put`, a request body, an
 * NDJSON line): 8 MiB. Compact JSON takes at most 6 bytes per byte of DAG-CBOR (`false,` in an
 * array, or a control character's `\u0000` escape), so every value whose block fits in
 * MAX_BLOCK_BYTES has a JSON text under this; the gateway's JSON body limit is this too, so a
 * daemon accepts exactly what the local path accepts.
 */
export const MAX_JSON_TEXT_BYTES = 8 * MAX_BLOCK_BYTES

/**
 * Deepest nesting of arrays and objects in a frame or trace step input (the frame or step itself
 * counted as one level; a link `{"/": CID}` counts too). Checked before anything recursive runs on
 * the value (DAG-CBOR encoding, canonicalisation, JSON views): 100k levels would overflow the stack.
 */
export const MAX_JSON_DEPTH = 128

/** Throws `ERR_PAYLOAD_TOO_LARGE` if encoded block bytes are over MAX_BLOCK_BYTES. */
export function checkBlockSize (bytes: Uint8Array, what = 'block'): void {
  if (bytes.byteLength > MAX_BLOCK_BYTES) {
    throw new PayloadTooLargeError(`${what} is ${bytes.byteLength} bytes encoded (DAG-CBOR), over the limit of ${MAX_BLOCK_BYTES} bytes (1 MiB)`, { bytes: bytes.byteLength, limit: MAX_BLOCK_BYTES })
  }
}

/**
 * Encodes a value as DAG-CBOR and names it with a CIDv1 (sha2-256). Synchronous. Throws
 * `ERR_PAYLOAD_TOO_LARGE` (naming `what`) past MAX_BLOCK_BYTES.
 */
export function encodeBlock (value: unknown, what?: string): Block {
  const bytes = encodeDagCbor(value)
  checkBlockSize(bytes, what)
  return { cid: cidOf(bytes), bytes }
}

/** Refuses a value nested deeper than MAX_JSON_DEPTH (callers wrap it in their own code). */
function tooDeep (): never {
  throw new InvalidJsonError(`nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`, { limit: MAX_JSON_DEPTH })
}

/**
 * Names bytes with a CIDv1 of the given codec (sha2-256). For the one-byte codecs framehub
 * writes, the CID's bytes are laid out at once (version, codec, sha2-256, length, digest):
 * `CID.createV1(…, Digest.create(…))` builds them in several allocations and cost twice the hash.
 */
export function cidOf (bytes: Uint8Array, codec: number = DAG_CBOR): CID {
  const digest = sha256Latin1(bytes)
  if (codec >= 0x80) return CID.createV1(codec, Digest.create(SHA2_256, Buffer.from(digest, 'latin1')))
  const cidBytes = smallBytes(36)
  cidBytes[0] = 1
  cidBytes[1] = codec
  cidBytes[2] = SHA2_256
  cidBytes[3] = 32
  for (let i = 0; i < 32; i++) cidBytes[4 + i] = digest.charCodeAt(i)
  return cidV1Sha256(cidBytes)
}

/** The CID of 36 bytes laid out as CIDv1, a one-byte codec, sha2-256, 32 (the caller checked). */
export function cidV1Sha256 (cidBytes: Uint8Array): CID {
  return new CID(1, cidBytes[1] as number, new Digest.Digest(SHA2_256, 32, cidBytes.subarray(4), cidBytes.subarray(2)), cidBytes)
}

/**
 * Checks that `bytes` hash to `cid`. Supports sha2-256 and identity, the hashes framehub
 * writes and accepts; anything else is refused rather than trusted.
 */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  const code = cid.multihash.code
  let matches: boolean
  if (code === SHA2_256) matches = latin1Equals(sha256Latin1(bytes), cid.multihash.digest)
  else if (code === identity.code) matches = equalBytes(bytes, cid.multihash.digest)
  else throw new BlockInvalidError(`block ${cid} uses an unsupported hash function 0x${code.toString(16)}`, { cid: cid.toString() })
  if (!matches) {
    throw new BlockCorruptError(`block ${cid} does not match its hash (corrupt or forged)`, { cid: cid.toString() })
  }
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/** Decodes a DAG-CBOR block, turning decoder failures into a one-line `ERR_BLOCK_INVALID`. */
export function decodeCbor (cid: CID, bytes: Uint8Array): unknown {
  try {
    return dagCbor.decode(bytes)
  } catch (err) {
    throw new BlockInvalidError(`block ${cid} is not valid DAG-CBOR: ${(err as Error).message}`, { cid: cid.toString() })
  }
}

/** Decodes any block framehub understands (dag-cbor, dag-pb, raw) for display or traversal. */
export function decodeAny (cid: CID, bytes: Uint8Array): unknown {
  try {
    if (cid.code === DAG_CBOR) return dagCbor.decode(bytes)
    if (cid.code === DAG_PB) return dagPb.decode(bytes)
    if (cid.code === RAW) return bytes
    if (cid.code === dagJson.code) return dagJson.decode(bytes)
  } catch (err) {
    throw new BlockInvalidError(`block ${cid} does not decode: ${(err as Error).message}`, { cid: cid.toString() })
  }
  throw new BlockInvalidError(`block ${cid} uses an unsupported codec 0x${cid.code.toString(16)}`, { cid: cid.toString() })
}

/**
 * A compact Map/Set key for a CID: its bytes as a latin1 string. `cid.toString()` builds its base32
 * text character by character and such strings stay unflattened (about 1.5 KB each), which made
 * 100k-block walks spend a third of their time in garbage collection.
 */
export function cidKey (cid: CID): string {
  const b = cid.bytes
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')
}

/** True if DAG-CBOR bytes may hold a link: every CID is CBOR tag 42, which encodes as 0xd8 0x2a. */
function mayHoldLinks (bytes: Uint8Array): boolean {
  for (let i = bytes.indexOf(0xd8); i !== -1 && i < bytes.length - 1; i = bytes.indexOf(0xd8, i + 1)) {
    if (bytes[i + 1] === 0x2a) return true
  }
  return false
}

/** Every CID linked from a block, in the order the codec lays them out (deterministic; for DAG-CBOR, the encoded order). */
export function linksOf (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === RAW) return []
  if (cid.code === DAG_CBOR) {
    if (!mayHoldLinks(bytes)) return []
    try {
      return cborLinks(bytes)
    } catch (err) {
      throw new BlockInvalidError(`block ${cid} is not valid DAG-CBOR: ${(err as Error).message}`, { cid: cid.toString() })
    }
  }
  const value = decodeAny(cid, bytes)
  if (cid.code === DAG_PB) return (value as dagPb.PBNode).Links.map(l => l.Hash)
  const out: CID[] = []
  collectLinks(value, out)
  return out
}

function collectLinks (value: unknown, out: CID[]): void {
  if (value === null || typeof value !== 'object') return
  const cid = CID.asCID(value)
  if (cid != null) { out.push(cid); return }
  if (value instanceof Uint8Array) return
  if (Array.isArray(value)) { for (const v of value) collectLinks(v, out); return }
  // DAG-CBOR decodes maps with keys in canonical order, so this order is stable.
  for (const v of Object.values(value)) collectLinks(v, out)
}

/*
 * CID text. multiformats keeps every CID's string forms in a global WeakMap (filled by
 * `CID.parse` and `toString`); a WeakMap entry per CID makes every young-generation GC walk
 * them, and under gateway load those pauses were most of the tail latency (6.5 ms per scavenge
 * against 0.9 for a hello-world server). CIDv1 in base32, what framehub writes and gateways
 * use, is parsed and printed here without that cache; anything else goes through multiformats.
 */

/** `cid.toString()`, without multiformats' string cache for CIDv1 (base32). */
export function cidString (cid: CID): string {
  return cid.version === 1 ? base32Lower(cid.bytes, 'b') : cid.toString()
}

function parseCidText (text: string): CID {
  const bytes = text.charCodeAt(0) === 0x62 ? base32LowerBytes(text) : undefined
  if (bytes === undefined) return CID.parse(text)
  // What framehub writes (CIDv1, a one-byte codec, sha2-256) is read in place, as cidOf lays it out.
  if (bytes.length === 36 && bytes[0] === 1 && (bytes[1] as number) < 0x80 && bytes[2] === SHA2_256 && bytes[3] === 32) return cidV1Sha256(bytes)
  const cid = CID.decode(bytes)
  if (cid.version !== 1) return CID.parse(text) // a CIDv0 in base32 is not valid text; let multiformats say so
  return cid
}

/** Parses a CID string, with a one-line error that says which input was wrong. */
export function parseCid (text: string, what = 'CID'): CID {
  try {
    return parseCidText(text.trim())
  } catch {
    throw new CidInvalidError(`${what} "${text}" is not a valid CID`, { input: text })
  }
}

/** Returns the CID if `text` parses as one, else undefined (used to tell CIDs from names). */
export function tryParseCid (text: string): CID | undefined {
  try {
    return parseCidText(text)
  } catch {
    return undefined
  }
}

/** The JSON view of an IPLD value (DAG-JSON: links as {"/": cid}, bytes as {"/": {"bytes": b64}}). */
export function toJsonView (value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new BlockInvalidError(`${value} has no JSON form`)
    if (value === undefined) throw new BlockInvalidError('undefined has no JSON form')
    return Object.is(value, -0) ? 0 : value
  }
  const cid = CID.asCID(value)
  if (cid != null) return depth >= MAX_JSON_DEPTH ? tooDeep() : { '/': cidString(cid) }
  if (value instanceof Uint8Array) return depth + 1 >= MAX_JSON_DEPTH ? tooDeep() : { '/': { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64').replace(/=+$/, '') } }
  if (++depth > MAX_JSON_DEPTH) tooDeep()
  if (Array.isArray(value)) return value.map(v => toJsonView(v, depth))
  // Keys in DAG-JSON's order (UTF-8 bytes), so a view reads the same whichever way it was made.
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(value).sort(compareKeys)) setOwn(out, k, toJsonView((value as Record<string, unknown>)[k], depth))
  return out
}

/** `obj[k] = v` that also works for a key named `__proto__` (data from outside may have one). */
function setOwn (obj: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true })
  else obj[k] = v
}

/**
 * The IPLD value of a parsed JSON view (inverse of toJsonView): `{"/": "<cid>"}` becomes a CID and
 * `{"/": {"bytes": "<base64>"}}` becomes bytes, as DAG-JSON says. A hand walk over the already
 * parsed value: re-decoding the text with the DAG-JSON codec costs several times more per frame.
 * Refuses (ERR_JSON_INVALID) a value nested deeper than MAX_JSON_DEPTH before going deeper: it is
 * the first walk over a frame or step input, so nothing recursive has run on it yet.
 */
export function fromJsonView (json: unknown, depth = 0): unknown {
  if (json === null || typeof json !== 'object') return json
  if (++depth > MAX_JSON_DEPTH) tooDeep()
  if (Array.isArray(json)) {
    // Copy on write: most of a frame (its body) holds no links and is returned as it is.
    let out: unknown[] | undefined
    for (let i = 0; i < json.length; i++) {
      const v = fromJsonView(json[i], depth)
      if (v !== json[i]) (out ??= json.slice())[i] = v
    }
    return out ?? json
  }
  const obj = json as Record<string, unknown>
  const slash = obj['/']
  if (slash !== undefined && Object.keys(obj).length === 1) {
    if (typeof slash === 'string') return parseCid(slash, 'link')
    if (slash !== null && typeof slash === 'object' && !Array.isArray(slash)) {
      const b = (slash as Record<string, unknown>).bytes
      if (typeof b === 'string' && Object.keys(slash).length === 1) return new Uint8Array(Buffer.from(b, 'base64'))
    }
  }
  let out: Record<string, unknown> | undefined
  for (const k in obj) {
    const v = fromJsonView(obj[k], depth)
    if (v !== obj[k]) setOwn(out ??= { ...obj }, k, v)
  }
  return out ?? obj
}

/** Where an input came from, for error messages (`file.ndjson:12`). */
export interface SourceHint {
  source?: string
}

/** Parses JSON text with a one-line error naming the source on failure. */
export function parseJsonText (text: string, hint?: SourceHint): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    const at = hint?.source != null ? `${hint.source}: ` : ''
    throw new InvalidJsonError(`${at}malformed JSON: ${(err as Error).message}`, { source: hint?.source })
  }
}

/** Does the value hold CIDs or bytes? `'deep'` (and no further walk) past MAX_JSON_DEPTH. */
function hasIpldValues (value: unknown, depth = 0): boolean | 'deep' {
  if (value === null || typeof value !== 'object') return false
  if (value instanceof Uint8Array || CID.asCID(value) != null) return true
  if (++depth > MAX_JSON_DEPTH) return 'deep'
  let found = false
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    const has = hasIpldValues(v, depth)
    if (has === 'deep') return has
    found ||= has
  }
  return found
}

/**
 * The JSON view of a value that may already hold CIDs or bytes (the TypeScript API accepts both
 * forms): plain JSON is returned as it is, anything else goes through toJsonView. A value nested
 * deeper than MAX_JSON_DEPTH is returned as it is, for the validation that follows to refuse.
 */
export function asJsonView (value: unknown): unknown {
  return hasIpldValues(value) === true ? toJsonView(value) : value
}
