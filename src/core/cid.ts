import { hash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { base32Lower, base32LowerBytes } from './base32.ts'
import { smallBytes } from './slab.ts'
import { CidInvalidError } from './errors.ts'

/*
 * CIDs: the codes framehub names blocks with, making a CID from bytes, and CID text and keys.
 */

/** Multihash and multicodec codes of the blocks framehub writes. */
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
export function sha256Latin1 (bytes: Uint8Array): string {
  return hash('sha256', bytes, 'binary')
}

/**
 * Names bytes with a CIDv1 of the given codec (sha2-256). For the one-byte codecs framehub
 * writes, the CID's bytes are laid out at once (version, codec, sha2-256, length, digest):
 * `CID.createV1(…, Digest.create(…))` builds them in several allocations and cost twice the hash.
 */
export function cidOf (bytes: Uint8Array, codec: number = DAG_CBOR): CID {
  if (codec >= 0x80) return CID.createV1(codec, Digest.create(SHA2_256, Buffer.from(sha256Latin1(bytes), 'latin1')))
  const cidBytes = smallBytes(36)
  writeCidV1Sha256(bytes, codec, cidBytes, 0)
  return cidV1Sha256(cidBytes)
}

/**
 * Writes the bytes of `cidOf(bytes, codec)` (36 of them) into `out` at `at`, for a one-byte codec:
 * no CID object, for code that keeps many CIDs packed (an import's runs).
 */
export function writeCidV1Sha256 (bytes: Uint8Array, codec: number, out: Uint8Array, at: number): void {
  const digest = sha256Latin1(bytes)
  out[at] = 1
  out[at + 1] = codec
  out[at + 2] = SHA2_256
  out[at + 3] = 32
  for (let i = 0; i < 32; i++) out[at + 4 + i] = digest.charCodeAt(i)
}

/** The CID of 36 bytes laid out as CIDv1, a one-byte codec, sha2-256, 32 (the caller checked). */
export function cidV1Sha256 (cidBytes: Uint8Array): CID {
  return new CID(1, cidBytes[1] as number, new Digest.Digest(SHA2_256, 32, cidBytes.subarray(4), cidBytes.subarray(2)), cidBytes)
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
