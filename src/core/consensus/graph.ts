import type { CID } from 'multiformats/cid'
import { readCommit } from '../history.ts'
import type { Commit } from '../commit.ts'
import type { BlockReader } from '../tree/index.ts'

export interface GraphOptions {
  signal?: AbortSignal
  /**
   * Heights already known, by CID string (kept by the caller between decisions: a commit's
   * height never changes, and the first computation walks the whole history once).
   */
  heights?: Map<string, number>
}

/** Orders CIDs by their bytes (the tie-break of the consensus rule). */
export function compareCidBytes (a: CID, b: CID): number {
  const x = a.bytes
  const y = b.bytes
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - (y[i] as number)
    if (d !== 0) return d
  }
  return x.length - y.length
}

/**
 * The commit graph as the consensus rule reads it: commits, their heights (longest path to a root
 * commit, plus one) and ancestry. Ancestors always have smaller heights, so walks stop as soon
 * as they are below what they look for: an ancestry check reads only the history between the
 * two commits, never the whole of it.
 */
export class CommitGraph {
  readonly reader: BlockReader
  private readonly signal?: AbortSignal
  private readonly heights: Map<string, number>
  private readonly commits = new Map<string, Promise<Commit>>()

  constructor (reader: BlockReader, options: GraphOptions = {}) {
    this.reader = reader
    this.signal = options.signal
    this.heights = options.heights ?? new Map()
  }

  async commit (cid: CID): Promise<Commit> {
    const key = cid.toString()
    let c = this.commits.get(key)
    if (c === undefined) {
      c = readCommit(this.reader, cid, { signal: this.signal })
      this.commits.set(key, c)
      c.catch(() => { this.commits.delete(key) })
    }
    return await c
  }

  /** Height of a commit: 1 for a root commit, else one more than its highest parent. */
  async height (cid: CID): Promise<number> {
    const known = this.heights.get(cid.toString())
    if (known !== undefined) return known
    // Iterative post-order walk: histories are far deeper than the call stack.
    const stack: CID[] = [cid]
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as CID
      const key = top.toString()
      if (this.heights.has(key)) { stack.pop(); continue }
      const { parents } = await readCommit(this.reader, top, { signal: this.signal })
      const missing = parents.filter(p => !this.heights.has(p.toString()))
      if (missing.length > 0) { stack.push(...missing); continue }
      let h = 0
      for (const p of parents) h = Math.max(h, this.heights.get(p.toString()) as number)
      this.heights.set(key, h + 1)
      stack.pop()
    }
    return this.heights.get(cid.toString()) as number
  }

  /**
   * Which of `targets` are `from` itself or its ancestors. Walks down from `from`, never below
   * the lowest target.
   */
  async reachable (from: CID, targets: CID[]): Promise<Set<string>> {
    const wanted = new Map<string, number>()
    for (const t of targets) wanted.set(t.toString(), await this.height(t))
    const found = new Set<string>()
    if (wanted.size === 0) return found
    const floor = Math.min(...wanted.values())
    const seen = new Set<string>()
    const stack: CID[] = [from]
    while (stack.length > 0 && found.size < wanted.size) {
      const cid = stack.pop() as CID
      const key = cid.toString()
      if (seen.has(key)) continue
      seen.add(key)
      if (wanted.has(key)) found.add(key)
      if (await this.height(cid) <= floor) continue
      for (const p of (await this.commit(cid)).parents) if (!seen.has(p.toString())) stack.push(p)
    }
    return found
  }

  /** True when `ancestor` is `descendant` or one of its ancestors. */
  async contains (descendant: CID, ancestor: CID): Promise<boolean> {
    const key = ancestor.toString()
    if (descendant.toString() === key) return true
    return (await this.reachable(descendant, [ancestor])).has(key)
  }

  /**
   * A best common ancestor of `a` and `b`: the highest commit reachable from both (ties: smaller
   * CID bytes), or undefined for unrelated histories. Visits commits highest first, so it reads
   * only the history down to that ancestor.
   */
  async mergeBase (a: CID, b: CID): Promise<CID | undefined> {
    if (a.equals(b)) return a
    const sides = new Map<string, { cid: CID, height: number, from: number }>()
    const add = async (cid: CID, side: number): Promise<void> => {
      const key = cid.toString()
      const at = sides.get(key)
      if (at !== undefined) { at.from |= side; return }
      sides.set(key, { cid, height: await this.height(cid), from: side })
    }
    await add(a, 1)
    await add(b, 2)
    const done = new Set<string>()
    for (;;) {
      // The frontier is the width of the history between the heads and the base: small.
      let best: { cid: CID, height: number, from: number } | undefined
      for (const [key, item] of sides) {
        if (done.has(key)) continue
        if (best === undefined || item.height > best.height || (item.height === best.height && compareCidBytes(item.cid, best.cid) < 0)) best = item
      }
      if (best === undefined) return undefined
      if (best.from === 3) return best.cid
      done.add(best.cid.toString())
      for (const p of (await this.commit(best.cid)).parents) await add(p, best.from)
    }
  }
}
