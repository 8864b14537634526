import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { cborLinks } from './cbor-links.ts'
import { encodeDagCbor } from './cbor-encode.ts'
import { cidOf, DAG_CBOR, DAG_PB, RAW, SHA2_256, sha256Latin1 } from './cid.ts'
import { BlockCorruptError, BlockInvalidError, PayloadTooLargeError } from './errors.ts'

/*
 * Blocks: encoding a value as a DAG-CBOR block, the block size limit, checking bytes against
 * their CID, decoding, and the links a block holds.
 */

/** A content-addressed block: the bytes and the CID that names them. */
export interface Block {
  cid: CID
  bytes: Uint8Array
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

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
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
