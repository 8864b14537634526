import type { CID } from 'multiformats/cid'
import { cidOf, RAW } from '../../../src/core/cid.ts'
import { createCommit } from '../../../src/core/commit.ts'
import type { ForkRecord } from '../../../src/core/commit.ts'
import { CommitGraph } from '../../../src/core/consensus/index.ts'
import { mergeTrees } from '../../../src/core/merge.ts'
import { emptyTree, entries, mutateTree } from '../../../src/core/tree/index.ts'
import type { BlockReader, TreeChange } from '../../../src/core/tree/index.ts'

/**
 * An in-memory history for the consensus rule's tests: nodes that commit edits, merge each other
 * like `framehub merge` does, and adopt heads. Every value written is a fresh CID, so each frame
 * version has exactly one writer commit.
 */
export class World implements BlockReader {
  readonly blocks = new Map<string, Uint8Array>()
  /** Frame version (CID string) → the commit that wrote it. */
  readonly writer = new Map<string, string>()
  /** Frame id → every version written for it (CID strings). */
  readonly versions = new Map<string, string[]>()
  readonly heads = new Map<string, CID | undefined>()
  /** Frame version → the merge commits that keep it as a fork. */
  readonly forkedIn = new Map<string, string[]>()
  /** Frame id → the commits that removed it (whatever version they removed). */
  readonly removers = new Map<string, string[]>()
  private clock = 1_000
  private counter = 0

  async get (cid: CID): Promise<Uint8Array> {
    const b = this.blocks.get(cid.toString())
    if (b === undefined) throw Object.assign(new Error(`missing ${cid}`), { code: 'ERR_BLOCK_NOT_FOUND' })
    return b
  }

  add (blocks: Array<{ cid: CID, bytes: Uint8Array }>): void {
    for (const b of blocks) this.blocks.set(b.cid.toString(), b.bytes)
  }

  constructor (nodes: string[]) {
    this.add(emptyTree().blocks)
    for (const n of nodes) this.heads.set(n, undefined)
  }

  signer (node: string): { id: string, sign: () => Uint8Array } {
    return { id: node, sign: () => new Uint8Array(64) }
  }

  async treeOf (commit: CID | undefined): Promise<CID> {
    if (commit === undefined) return emptyTree().root
    return (await new CommitGraph(this).commit(commit)).tree
  }

  async map (tree: CID): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for await (const e of entries(this, tree)) out.set(e.key, e.value.toString())
    return out
  }

  /** `node` commits on its head: `keys` get fresh versions, `remove` are removed. */
  async write (node: string, keys: string[], remove: string[] = []): Promise<CID> {
    const head = this.heads.get(node)
    const changes: TreeChange[] = []
    const fresh: string[] = []
    for (const key of keys) {
      const value = cidOf(new TextEncoder().encode(`v${++this.counter}`), RAW)
      changes.push({ key, value })
      fresh.push(value.toString())
    }
    const removed: string[] = []
    const before = await this.map(await this.treeOf(head))
    for (const key of remove) {
      if (keys.includes(key) || !before.has(key)) continue
      changes.push({ key, value: null })
      removed.push(key)
    }
    const t = await mutateTree(this, await this.treeOf(head), changes)
    this.add(t.blocks)
    const c = await createCommit(this.signer(node), { tree: t.root, parents: head === undefined ? [] : [head], message: 'w', time: ++this.clock })
    this.add([c])
    for (const v of fresh) this.writer.set(v, c.cid.toString())
    for (const [i, key] of keys.entries()) this.versions.set(key, [...this.versions.get(key) ?? [], fresh[i] as string])
    for (const r of removed) this.removers.set(r, [...this.removers.get(r) ?? [], c.cid.toString()])
    this.heads.set(node, c.cid)
    return c.cid
  }

  /** `node` merges `other`'s head into its own (a signed merge commit; conflicts keep ours). */
  async merge (node: string, other: CID): Promise<CID> {
    const head = this.heads.get(node)
    const graph = new CommitGraph(this)
    if (head === undefined || await graph.contains(other, head)) { this.heads.set(node, other); return other }
    if (await graph.contains(head, other)) return head
    const base = await graph.mergeBase(head, other)
    const merged = await mergeTrees(this, await this.treeOf(base), await this.treeOf(head), await this.treeOf(other))
    const t = await mutateTree(this, await this.treeOf(head), merged.changes)
    this.add(t.blocks)
    const forks: ForkRecord[] = merged.forks
    const c = await createCommit(this.signer(node), { tree: t.root, parents: [head, other], message: 'merge', time: ++this.clock, forks })
    this.add([c])
    for (const f of forks) {
      for (const v of [f.ours, f.theirs]) if (v !== null) this.forkedIn.set(v.toString(), [...this.forkedIn.get(v.toString()) ?? [], c.cid.toString()])
    }
    this.heads.set(node, c.cid)
    return c.cid
  }

  adopt (node: string, head: CID): void {
    this.heads.set(node, head)
  }
}
