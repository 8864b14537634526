/**
 * RFC 4648 base32 without padding, through lookup tables: the text of block keys (`/B` +
 * upper case, as blockstore-level writes them) and of CIDv1 (`b` + lower case). multiformats'
 * encoder builds its strings a character at a time and keeps a global cache per CID; these are
 * on every block read and every gateway request.
 */
import { smallBytes } from './slab.ts'

const UPPER = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 'latin1')
const LOWER = Buffer.from('abcdefghijklmnopqrstuvwxyz234567', 'latin1')
const LOWER_CODES = (() => {
  const codes = new Int8Array(128).fill(-1)
  for (let i = 0; i < 32; i++) codes[LOWER[i] as number] = i
  return codes
})()

function encode (bytes: Uint8Array, alphabet: Buffer, prefix: string): string {
  const out = Buffer.allocUnsafe(prefix.length + Math.ceil(bytes.length * 8 / 5))
  const o = encodeInto(bytes, alphabet, out, out.write(prefix, 'latin1'))
  return out.toString('latin1', 0, o)
}

/** Writes the base32 text of `bytes` (one byte a character) into `out` at `o`; returns where it ends. */
function encodeInto (bytes: Uint8Array, alphabet: Buffer, out: Uint8Array, o: number): number {
  let bits = 0
  let value = 0
  for (let i = 0; i < bytes.length; i++) {
    value = (value << 8) | (bytes[i] as number)
    bits += 8
    while (bits >= 5) {
      out[o++] = alphabet[(value >>> (bits - 5)) & 31] as number
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  if (bits > 0) out[o++] = alphabet[(value << (5 - bits)) & 31] as number
  return o
}

/** `prefix` + base32 upper case of `bytes`. */
export const base32Upper = (bytes: Uint8Array, prefix = ''): string => encode(bytes, UPPER, prefix)

/** Writes base32 upper case of `bytes` into `out` at `at` (one byte a character); returns where it ends. */
export const base32UpperInto = (bytes: Uint8Array, out: Uint8Array, at: number): number => encodeInto(bytes, UPPER, out, at)

/** `prefix` + base32 lower case of `bytes`. */
export const base32Lower = (bytes: Uint8Array, prefix = ''): string => encode(bytes, LOWER, prefix)

/**
 * The bytes of base32 lower-case text after a one-character prefix; undefined if it is not that,
 * including what multiformats refuses too: a dangling character, or padding bits that are not zero.
 */
export function base32LowerBytes (text: string): Uint8Array | undefined {
  if (text.length < 2) return undefined
  const out = smallBytes(((text.length - 1) * 5) >> 3)
  let bits = 0
  let value = 0
  let o = 0
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const v = c < 128 ? LOWER_CODES[c] as number : -1
    if (v < 0) return undefined
    value = ((value << 5) | v) & 0xfff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (value >>> bits) & 0xff
    }
  }
  if (bits >= 5 || ((value << (8 - bits)) & 0xff) !== 0) return undefined
  return out
}
