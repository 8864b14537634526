import type { CID } from 'multiformats/cid'
import { countEntries, diffTrees } from '../tree/index.ts'
import type { BlockReader, NodeCache } from '../tree/index.ts'

/** One key's values in a tree and in the reference tree (null: absent). */
interface Change { before: CID | null, after: CID | null }

/** A tree's changes from the reference tree: by key, and as parallel lists in key order. */
export interface TreeDelta { tree: CID, byKey: Map<string, Change>, keys: string[], changes: Change[] }

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
  private readonly deltas = new Map<string, Promise<TreeDelta>>()
  /** The reference tree's nodes, decoded once for all the diffs. */
  private readonly referenceNodes: NodeCache = new Map()

  private constructor (reader: BlockReader, reference: CID, referenceSize: number, signal?: AbortSignal) {
    this.reader = reader
    this.reference = reference
    this.referenceSize = referenceSize
    this.signal = signal
  }

  static async create (reader: BlockReader, reference: CID, sizes: TreeSizes, options: { signal?: AbortSignal } = {}): Promise<TreeSimilarity> {
    return new TreeSimilarity(reader, reference, await sizes.size(reader, reference, options), options.signal)
  }

  /** The changes from the reference to `tree`: one Merkle diff per tree, kept for every pair it is in. */
  async delta (tree: CID): Promise<TreeDelta> {
    const key = tree.toString()
    let d = this.deltas.get(key)
    if (d === undefined) {
      d = (async () => {
        const delta: TreeDelta = { tree, byKey: new Map(), keys: [], changes: [] }
        for await (const e of diffTrees(this.reader, this.reference, tree, { signal: this.signal, cacheA: this.referenceNodes })) {
          const change = { before: e.before, after: e.after }
          delta.byKey.set(e.key, change)
          delta.keys.push(e.key)
          delta.changes.push(change)
        }
        return delta
      })()
      this.deltas.set(key, d)
    }
    return await d
  }

  /** Shared entries / entries in either, in [0, 1]; two empty trees are alike (1). */
  async of (a: CID, b: CID): Promise<number> {
    if (a.equals(b)) return 1
    return this.between(await this.delta(a), await this.delta(b))
  }

  /**
   * `of` for two trees whose deltas are at hand: synchronous, in plain loops over the keys either
   * tree changed, since a decision compares every candidate with every proposal's commits.
   */
  between (da: TreeDelta, db: TreeDelta): number {
    if (da === db || da.tree.equals(db.tree)) return 1
    let touchedInReference = 0
    let shared = 0
    let union = 0
    for (let i = 0; i < da.changes.length; i++) {
      const x = da.changes[i] as Change
      const y = db.byKey.get(da.keys[i] as string)
      if (x.before !== null) touchedInReference++
      const vb = y !== undefined ? y.after : x.before
      if (x.after !== null || vb !== null) union++
      if (x.after !== null && same(x.after, vb)) shared++
    }
    for (let i = 0; i < db.changes.length; i++) {
      if (da.byKey.has(db.keys[i] as string)) continue
      const y = db.changes[i] as Change
      if (y.before !== null) touchedInReference++
      if (y.before !== null || y.after !== null) union++
      if (y.before !== null && same(y.before, y.after)) shared++
    }
    const untouched = this.referenceSize - touchedInReference
    const all = untouched + union
    return all === 0 ? 1 : (untouched + shared) / all
  }
}
