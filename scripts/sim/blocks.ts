/**
 * Blocks of the simulated network: one content-addressed store for the whole run (a block has the
 * same bytes wherever it is), and per node the set of blocks that node holds. A node reads only
 * blocks it holds: a decision that needed a block it never synced fails as it would on a real node.
 */
import type { CID } from 'multiformats/cid'
import { decodeCommit } from '../../src/core/commit.ts'
import { decodeTreeNode } from '../../src/core/tree/index.ts'
import type { BlockReader } from '../../src/core/tree/index.ts'

/** What a block is, for walking a DAG without guessing from its bytes. */
export type BlockKind = 'commit' | 'tree' | 'frame'

class MissingBlockError extends Error {
  readonly code = 'ERR_BLOCK_NOT_FOUND'
  constructor (cid: CID, where: string) {
    super(`${where} lacks block ${cid}`)
    this.name = 'MissingBlockError'
  }
}

/** Every block written anywhere in the run, by CID string, with its kind and (once decoded) its links. */
export class BlockSpace implements BlockReader {
  readonly bytes = new Map<string, Uint8Array>()
  readonly kinds = new Map<string, BlockKind>()
  private readonly linkCache = new Map<string, CID[]>()

  put (kind: BlockKind, block: { cid: CID, bytes: Uint8Array }): void {
    const key = block.cid.toString()
    if (this.bytes.has(key)) return
    this.bytes.set(key, block.bytes)
    this.kinds.set(key, kind)
  }

  async get (cid: CID): Promise<Uint8Array> {
    const b = this.bytes.get(cid.toString())
    if (b === undefined) throw new MissingBlockError(cid, 'the network')
    return b
  }

  /** The blocks a block links to (a commit: its tree and parents; a tree node: its children or frames). */
  links (cid: CID): CID[] {
    const key = cid.toString()
    const hit = this.linkCache.get(key)
    if (hit !== undefined) return hit
    const bytes = this.bytes.get(key)
    if (bytes === undefined) throw new MissingBlockError(cid, 'the network')
    let out: CID[]
    const kind = this.kinds.get(key)
    if (kind === 'commit') {
      const c = decodeCommit(cid, bytes)
      out = [c.tree, ...c.parents]
    } else if (kind === 'tree') {
      out = decodeTreeNode(bytes, cid).values
    } else {
      out = []
    }
    this.linkCache.set(key, out)
    return out
  }
}

/**
 * The blocks one node holds. The set is closed under links (a node receives a head with its whole
 * DAG), so a walk for what is missing stops at the first block already held.
 */
export class NodeBlocks implements BlockReader {
  readonly held = new Set<string>()
  private readonly space: BlockSpace
  private readonly name: string

  constructor (space: BlockSpace, name: string) {
    this.space = space
    this.name = name
  }

  async get (cid: CID): Promise<Uint8Array> {
    const key = cid.toString()
    if (!this.held.has(key)) throw new MissingBlockError(cid, `node ${this.name}`)
    return this.space.bytes.get(key) as Uint8Array
  }

  /** Stores blocks this node made itself (its commits, trees, frames, consensus commits). */
  add (kind: BlockKind, blocks: Array<{ cid: CID, bytes: Uint8Array }>): void {
    for (const b of blocks) {
      this.space.put(kind, b)
      this.held.add(b.cid.toString())
    }
  }

  /**
   * Receives the DAG under `head` from a peer that has it: the blocks this node lacks, and their
   * bytes (what a one-round-trip sync would send).
   */
  sync (head: CID): { blocks: number, bytes: number } {
    let blocks = 0
    let bytes = 0
    const stack: CID[] = [head]
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      const key = cid.toString()
      if (this.held.has(key)) continue
      const b = this.space.bytes.get(key)
      if (b === undefined) throw new MissingBlockError(cid, 'the network')
      this.held.add(key)
      blocks++
      bytes += b.byteLength
      for (const l of this.space.links(cid)) if (!this.held.has(l.toString())) stack.push(l)
    }
    return { blocks, bytes }
  }
}
