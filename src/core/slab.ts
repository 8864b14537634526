/**
 * Small byte arrays (CIDs, multihashes) as views into shared 8 KiB slabs, as Node's
 * `Buffer.allocUnsafe` pool does for small Buffers, but plain `Uint8Array`s (multiformats copies
 * anything else).
 *
 * Why: V8 keeps a typed array of up to 64 bytes on its heap until something asks for its
 * `ArrayBuffer`, and `subarray` does; from then on it owns an off-heap `ArrayBuffer`, and every
 * young-generation GC must sweep each one that died. A parsed CID is cut into views (its
 * multihash, its digest) at once, so each cost one `ArrayBuffer`: under gateway load, one per
 * request. Views into a slab share one.
 *
 * The cost: a slab stays in memory while any view into it does (at most 8 KiB per CID kept).
 */
const SLAB_BYTES = 8192
/** Larger arrays get their own buffer. */
const LARGEST = 128

let slab = new Uint8Array(SLAB_BYTES)
let used = 0

/** A zero-filled array of `length` bytes, a view into a shared slab when it is small. */
export function smallBytes (length: number): Uint8Array {
  if (length > LARGEST) return new Uint8Array(length)
  if (used + length > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES)
    used = 0
  }
  const view = slab.subarray(used, used + length)
  used += length
  return view
}
