/** Average number of entries per node: a key is a boundary with probability 1/TREE_FANOUT. */
export const TREE_FANOUT = 32

/**
 * Compares two keys in UTF-8 byte order (which equals Unicode code point order).
 * Returns a negative number, zero or a positive number.
 */
export function compareKeys (a: string, b: string): number {
  if (a === b) return 0
  const n = a.length < b.length ? a.length : b.length
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x !== y) {
      // UTF-16 code unit order only disagrees with code point order when a surrogate
      // (an astral code point) meets U+E000..U+FFFF: move surrogates above that range.
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000
      }
      return x < y ? -1 : 1
    }
  }
  return a.length < b.length ? -1 : 1
}

/**
 * True when `key` can be a tree key: a string without lone surrogates (which UTF-8 cannot
 * carry) that does not start with U+FEFF (the DAG-CBOR decoder, cborg 6, reads strings with a
 * default `TextDecoder`, which drops a leading U+FEFF, so such a key would not survive a round trip).
 */
export function isValidKey (key: unknown): key is string {
  return typeof key === 'string' && key.charCodeAt(0) !== 0xfeff && key.isWellFormed()
}

/**
 * The 32-bit chunking hash of a key at a level. Exactly:
 *
 * 1. `h = FNV-1a-32(utf8(key))`: `h = 0x811C9DC5`; for each byte `b`: `h = (h XOR b) * 0x01000193 mod 2^32`.
 * 2. `h = h XOR ((level * 0x9E3779B9) mod 2^32)`.
 * 3. MurmurHash3 fmix32: `h ^= h >>> 16; h = h * 0x85EBCA6B mod 2^32; h ^= h >>> 13;
 *    h = h * 0xC2B2AE35 mod 2^32; h ^= h >>> 16`.
 *
 * Returns `h` as an unsigned 32-bit integer. Lone surrogates are hashed as U+FFFD (like
 * `TextEncoder`), but such keys are rejected by the tree anyway.
 */
export function keyHash (key: string, level: number): number {
  let h = 0x811c9dc5
  const len = key.length
  for (let i = 0; i < len; i++) {
    let c = key.charCodeAt(i)
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193)
      continue
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193)
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193)
      continue
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < len ? key.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
        h = Math.imul(h ^ (0xf0 | (cp >> 18)), 0x01000193)
        h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), 0x01000193)
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), 0x01000193)
        h = Math.imul(h ^ (0x80 | (cp & 0x3f)), 0x01000193)
        continue
      }
      c = 0xfffd
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193)
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193)
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193)
  }
  h ^= Math.imul(level, 0x9e3779b9)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * True when a node at `level` ends right after `key`: `keyHash(key, level) % TREE_FANOUT === 0`
 * (see `keyHash` for the exact hash; TREE_FANOUT = 32). This decides the whole tree shape,
 * so any other implementation must reproduce it bit for bit.
 */
export function isBoundary (key: string, level: number): boolean {
  return keyHash(key, level) % TREE_FANOUT === 0
}

/** Index of the last key `<= key` in a sorted array, or -1 when `key` is below them all. */
export function floorIndex (keys: readonly string[], key: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareKeys(keys[mid] as string, key) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

/** Index of the first key `>= key` in a sorted array (`keys.length` when none). */
export function ceilIndex (keys: readonly string[], key: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareKeys(keys[mid] as string, key) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}
