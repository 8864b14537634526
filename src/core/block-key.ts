/**
 * The key a block is stored under: `/B` + base32 upper case (unpadded) of its CID's multihash,
 * blockstore-level's layout, so Helia reads framehub's blocks and the other way round. Made here,
 * with no storage, so that an import's worker threads can make the keys of the blocks they encode.
 */
import { base32Upper, base32UpperInto } from './base32.ts'

/** Bytes of the key of a sha2-256 multihash (34 bytes): `/B` and 55 base32 characters. */
export const SHA256_BLOCK_KEY_BYTES = 2 + Math.ceil(34 * 8 / 5)

/** The key of the block whose CID has this multihash. */
export function blockKeyOf (multihash: Uint8Array): string {
  return base32Upper(multihash, '/B')
}

/** Writes the key of `multihash` into `out` at `at`, one byte a character (latin1); returns where it ends. */
export function writeBlockKey (multihash: Uint8Array, out: Uint8Array, at: number): number {
  out[at] = 0x2f // '/'
  out[at + 1] = 0x42 // 'B'
  return base32UpperInto(multihash, out, at + 2)
}
