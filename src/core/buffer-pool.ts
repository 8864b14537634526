/**
 * Buffers handed back for reuse, by size. An import reads its NDJSON into buffers of one size,
 * hands each to the thread that encodes it and gets it back once its lines are decoded: memory
 * the process already has. A fresh buffer is memory the system must map and zero page by page,
 * and that cost is not small: reading a 50 MB file into fresh 1 MiB buffers took 117 ms of CPU
 * time on this project's 2-core machine, into one buffer used again 10 ms.
 */
export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>()
  readonly #max: number
  readonly #maxBytes: number

  /** Keeps at most `max` buffers of each size, none over `maxBytes`. */
  constructor (max: number, maxBytes: number) {
    this.#max = max
    this.#maxBytes = maxBytes
  }

  /** A buffer of `size` bytes: one handed back, else a new one (its bytes are not zeroed either way). */
  take (size: number): Uint8Array<ArrayBuffer> {
    const buffer = this.#free.get(size)?.pop()
    return buffer !== undefined ? new Uint8Array(buffer) : new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size)
  }

  /**
   * Hands `buffer` back: nothing may read or write it afterwards. A buffer transferred to another
   * thread (detached, 0 bytes long) or over `maxBytes` is not kept.
   */
  give (buffer: ArrayBuffer): void {
    if (buffer.byteLength === 0 || buffer.byteLength > this.#maxBytes || buffer.detached) return
    let free = this.#free.get(buffer.byteLength)
    if (free === undefined) this.#free.set(buffer.byteLength, free = [])
    if (free.length < this.#max) free.push(buffer)
  }

  /** Buffers kept (for tests). */
  get size (): number {
    let n = 0
    for (const free of this.#free.values()) n += free.length
    return n
  }
}
