import type { CID } from 'multiformats/cid'
import { countEntries, diffTrees } from '../tree/index.ts'
import type { BlockReader } from '../tree/index.ts'

/** One key's values in a tree and in the reference tree (null: absent). */
interface Change { before: CID | null, after: CID | null }

function same (a: CID | null, b: CID | null): boolean {
  return a === null ? b === null : b !== null && a.equals(b)
}

/**
 * Sizes of trees (entry counts), kept by the caller between decisions. A size not known yet is
 * derived from a known one by a Merkle diff (O(changes · log n)), and only counted in full when
 * no size is known at all.
 */
export class TreeSizes {
  private readonly known: Map<string, number>
  private last: CID | undefined

  constructor (known: Map<string, number> = new Map()) {
    this.known = known
  }

  set (tree: CID, size: number): void {
    this.known.set(tree.toString(), size)
    this.last = tree
  }

  async size (reader: BlockReader, tree: CID, options?: { signal?: AbortSignal }): Promise<number> {
    const hit = this.known.get(tree.toString())
    if (hit !== undefined) return hit
    let size: number
    const from = this.last
    if (from !== undefined) {
      size = this.known.get(from.toString()) as number
      for await (const d of diffTrees(reader, from, tree, options)) size += (d.after === null ? -1 : 0) + (d.before === null ? 1 : 0)
    } else {
      size = await countEntries(reader, tree, options)
    }
    this.set(tree, size)
    return size
  }
}

/**
 * Similarity of frame trees: shared entries (same id, same frame CID) over all entries (ids in
 * either). Every tree is diffed once against one reference tree, and each pair is then compared on
 * the keys either of them changed, so n trees cost n Merkle diffs, not n² (and never a full scan
 * beyond the reference's size, known or derived by `TreeSizes`). The result is exact and does not
 * depend on which tree is the reference.
 */
export class TreeSimilarity {
  private readonly reader: BlockReader
  private readonly reference: CID
  private readonly referenceSize: number
  private readonly signal?: AbortSignal
  private readonly deltas = new Map<string, Promise<Map<string, Change>>>()

  private constructor (reader: BlockReader, reference: CID, referenceSize: number, signal?: AbortSignal) {
    this.reader = reader
    this.reference = reference
    this.referenceSize = referenceSize
    this.signal = signal
  }

  static async create (reader: BlockReader, reference: CID, sizes: TreeSizes, options: { signal?: AbortSignal } = {}): Promise<TreeSimilarity> {
    return new TreeSimilarity(reader, reference, await sizes.size(reader, reference, options), options.signal)
  }

  private async delta (tree: CID): Promise<Map<string, Change>> {
    const key = tree.toString()
    let d = this.deltas.get(key)
    if (d === undefined) {
      d = (async () => {
        const out = new Map<string, Change>()
        for await (const e of diffTrees(this.reader, this.reference, tree, { signal: this.signal })) out.set(e.key, { before: e.before, after: e.after })
        return out
      })()
      this.deltas.set(key, d)
    }
    return await d
  }

  /** Shared entries / entries in either, in [0, 1]; two empty trees are alike (1). */
  async of (a: CID, b: CID): Promise<number> {
    if (a.equals(b)) return 1
    const da = await this.delta(a)
    const db = await this.delta(b)
    let touchedInReference = 0
    let shared = 0
    let union = 0
    const visit = (key: string, x: Change | undefined, y: Change | undefined): void => {
      const base = (x ?? y as Change).before
      if (base !== null) touchedInReference++
      const va = x !== undefined ? x.after : base
      const vb = y !== undefined ? y.after : base
      if (va !== null || vb !== null) union++
      if (va !== null && same(va, vb)) shared++
    }
    for (const [key, x] of da) visit(key, x, db.get(key))
    for (const [key, y] of db) if (!da.has(key)) visit(key, undefined, y)
    const untouched = this.referenceSize - touchedInReference
    const all = untouched + union
    return all === 0 ? 1 : (untouched + shared) / all
  }
}
