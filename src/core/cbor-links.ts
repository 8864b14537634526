import { CID } from 'multiformats/cid'

/**
 * The CIDs linked from DAG-CBOR bytes, in the order they are encoded, found without decoding
 * the values: the scan reads each item's head and skips strings and numbers, and decodes only
 * the byte strings under tag 42 (a link). Walks (sync, gc, verify, CAR export) need the links of
 * every block and nothing else; a full decode builds every string and map for nothing and was
 * most of their cost.
 *
 * The bytes must be well-formed CBOR as DAG-CBOR restricts it: definite lengths, tag 42 only,
 * nothing after the top item. Anything else throws. (Strict value rules, such as canonical
 * map key order, are the decoder's to check where a value is used.)
 */
export function cborLinks (bytes: Uint8Array): CID[] {
  const out: CID[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const end = bytes.byteLength
  let at = 0
  /** Items still to read, per open array or map; one item at the top. */
  const open: number[] = [1]

  const argument = (info: number): number => {
    if (info < 24) return info
    let value: number
    if (info === 24) { need(1); value = bytes[at] as number; at += 1 } else if (info === 25) { need(2); value = view.getUint16(at); at += 2 } else if (info === 26) { need(4); value = view.getUint32(at); at += 4 } else if (info === 27) {
      need(8)
      const big = view.getBigUint64(at)
      at += 8
      // Lengths past 2^53 cannot fit in a block; as an integer value it is skipped anyway.
      value = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big)
    } else {
      throw new Error(info === 31 ? 'indefinite lengths are not DAG-CBOR' : `reserved additional information ${info}`)
    }
    return value
  }
  const need = (n: number): void => {
    if (at + n > end) throw new Error('unexpected end of CBOR')
  }

  while (open.length > 0) {
    const top = open.length - 1
    const left = open[top] as number
    if (left === 0) { open.pop(); continue }
    open[top] = left - 1
    need(1)
    const head = bytes[at++] as number
    const major = head >> 5
    const info = head & 31
    if (major === 7) {
      // Simple values and floats: a float's bytes follow its head.
      if (info === 25) { need(2); at += 2 } else if (info === 26) { need(4); at += 4 } else if (info === 27) { need(8); at += 8 } else if (info >= 24) throw new Error(`unsupported simple value (additional information ${info})`)
      continue
    }
    const value = argument(info)
    if (major === 0 || major === 1) continue
    if (major === 2 || major === 3) { need(value); at += value; continue }
    if (major === 4) { open.push(value); continue }
    if (major === 5) { open.push(value * 2); continue }
    // major 6: a tag
    if (value !== 42) throw new Error(`CBOR tag ${value} is not allowed in DAG-CBOR`)
    need(1)
    const inner = bytes[at++] as number
    if (inner >> 5 !== 2) throw new Error('a link (tag 42) must be a byte string')
    const length = argument(inner & 31)
    need(length)
    if (length < 2 || bytes[at] !== 0) throw new Error('a link (tag 42) must start with the 0x00 multibase prefix')
    out.push(CID.decode(bytes.slice(at + 1, at + length)))
    at += length
  }
  if (at !== end) throw new Error(`${end - at} bytes after the end of the CBOR item`)
  return out
}
