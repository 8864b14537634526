/**
 * Buffers handed back for reuse. An import reads its NDJSON into buffers of one size, hands each
 * to the thread that encodes it and gets it back once its lines are decoded: memory the process
 * already has. A fresh buffer is memory the system must map and zero page by page, and that cost
 * is not small: reading a 50 MB file into fresh 1 MiB buffers took 117 ms of CPU time on this
 * project's 2-core machine, into one buffer used again 10 ms.
 *
 * It keeps the `max` buffers handed back last (an older one goes when a new one comes), none
 * over `maxBytes`: at most `max * maxBytes` bytes, whatever sizes its users ask for.
 */
export class BufferPool {
  readonly #free: ArrayBuffer[] = []
  readonly #max: number
  readonly #maxBytes: number

  constructor (max: number, maxBytes: number) {
    this.#max = max
    this.#maxBytes = maxBytes
  }

  /** A buffer of exactly `size` bytes: one handed back, else a new one (its bytes are not zeroed either way). */
  take (size: number): Uint8Array<ArrayBuffer> {
    for (let i = this.#free.length - 1; i >= 0; i--) {
      const buffer = this.#free[i] as ArrayBuffer
      if (buffer.byteLength === size) {
        this.#free.splice(i, 1)
        return new Uint8Array(buffer)
      }
    }
    return new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size)
  }

  /**
   * Hands `buffer` back: nothing may read or write it afterwards. A buffer transferred to another
   * thread (detached, 0 bytes long) or over `maxBytes` is not kept.
   */
  give (buffer: ArrayBuffer): void {
    if (buffer.byteLength === 0 || buffer.byteLength > this.#maxBytes || buffer.detached || this.#free.includes(buffer)) return
    if (this.#free.length >= this.#max) this.#free.shift()
    this.#free.push(buffer)
  }

  /** Drops the buffers kept (for tests). */
  clear (): void {
    this.#free.length = 0
  }

  /** Buffers kept (for tests). */
  get size (): number {
    return this.#free.length
  }
}
