/**
 * A discrete-event clock: events run in time order, ties in the order they were scheduled, so a
 * run is a pure function of its seed.
 */
export class EventQueue<T> {
  private readonly heap: Array<{ at: number, seq: number, event: T }> = []
  private seq = 0
  now = 0

  get size (): number { return this.heap.length }

  schedule (at: number, event: T): void {
    const item = { at: Math.max(at, this.now), seq: this.seq++, event }
    const h = this.heap
    h.push(item)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.before(item, h[p] as typeof item)) break
      h[i] = h[p] as typeof item
      i = p
    }
    h[i] = item
  }

  /** The next event, with the clock moved to its time; undefined when none is left. */
  next (): T | undefined {
    const h = this.heap
    const top = h[0]
    if (top === undefined) return undefined
    const last = h.pop() as typeof top
    if (h.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        let best = last
        if (l < h.length && this.before(h[l] as typeof top, best)) { m = l; best = h[l] as typeof top }
        if (r < h.length && this.before(h[r] as typeof top, best)) { m = r; best = h[r] as typeof top }
        if (m === i) break
        h[i] = best
        i = m
      }
      h[i] = last
    }
    this.now = top.at
    return top.event
  }

  private before (a: { at: number, seq: number }, b: { at: number, seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }
}

/** mulberry32: a small seeded PRNG (the bench's generator, so a seed means the same thing in both). */
export { prng } from '../bench/common.ts'
