import type { CID } from 'multiformats/cid'
import { valueAt } from './cbor.ts'
import { TreeError } from './errors.ts'
import { compareKeys } from './keys.ts'
import { EMPTY_NODE, decodeTreeNode } from './node.ts'
import type { BlockReader, TreeNode } from './types.ts'

/** A node read from the store, with the exclusive upper bound its keys must stay below. */
export interface LoadedNode {
  cid: CID
  bytes: Uint8Array
  node: TreeNode
  /** First key of the next node on the same level (undefined for the last node of a level). */
  upper: string | undefined
}

/** What a child must look like given its parent entry. */
export interface NodeExpectation {
  level?: number
  firstKey?: string
  upper?: string
}

/** Decoded nodes by their CID's digest (see `nodeCacheKey`), shared by loaders that read the same tree. */
export type NodeCache = Map<string, { bytes: Uint8Array, node: TreeNode }>

/**
 * The cache key of a node: its digest as a latin1 string. Cheaper than the CID's text (no base32,
 * no per-CID string cache), and a node's bytes are named by their digest whatever the CID's codec.
 */
export function nodeCacheKey (cid: CID): string {
  return String.fromCharCode.apply(null, cid.multihash.digest as unknown as number[])
}

/**
 * Reads, decodes and checks tree nodes against their parent entry, counting reads.
 * With `cache` (true: its own; or a map shared with other loaders), each node is read and decoded
 * at most once (used by `mutateTree`, and by similarity for the tree every diff starts from).
 */
export class NodeLoader {
  readonly #reader: BlockReader
  readonly #signal: AbortSignal | undefined
  readonly #cache: NodeCache | undefined

  constructor (reader: BlockReader, signal?: AbortSignal, cache: boolean | NodeCache = false) {
    this.#reader = reader
    this.#signal = signal
    this.#cache = cache === true ? new Map() : cache === false ? undefined : cache
  }

  /** True when this loader has read `cid` (only tracked with `cache`). */
  has (cid: CID): boolean {
    return this.#cache?.has(nodeCacheKey(cid)) ?? false
  }

  /** Reads and decodes `cid`, then checks it against `expect`; throws `TreeError` on any mismatch. */
  async load (cid: CID, expect: NodeExpectation = {}): Promise<LoadedNode> {
    this.#signal?.throwIfAborted()
    const id = this.#cache === undefined ? undefined : nodeCacheKey(cid)
    let entry = id === undefined ? undefined : this.#cache?.get(id)
    if (entry === undefined && cid.equals(EMPTY_NODE.cid)) entry = EMPTY_NODE
    if (entry === undefined) {
      const bytes = await this.#reader.get(cid, this.#signal === undefined ? undefined : { signal: this.#signal })
      entry = { bytes, node: decodeTreeNode(bytes, cid) }
      if (id !== undefined) this.#cache?.set(id, entry)
    }
    const { node } = entry
    if (expect.level !== undefined && node.level !== expect.level) {
      throw new TreeError(`tree node ${cid} has level ${node.level} where level ${expect.level} is expected`, { cid: cid.toString() })
    }
    if (expect.firstKey !== undefined && node.keys[0] !== expect.firstKey) {
      throw new TreeError(`tree node ${cid} does not start with the key its parent entry names`, { cid: cid.toString() })
    }
    const last = node.keys[node.keys.length - 1]
    if (expect.upper !== undefined && last !== undefined && compareKeys(last, expect.upper) >= 0) {
      throw new TreeError(`tree node ${cid} holds keys that belong to the next node`, { cid: cid.toString() })
    }
    return { cid, bytes: entry.bytes, node, upper: expect.upper }
  }

  /** Loads a tree root (any level). */
  async root (cid: CID): Promise<LoadedNode> {
    return await this.load(cid)
  }

  /** Loads child `index` of an internal node, checking its level, first key and key range. */
  async child (parent: LoadedNode, index: number): Promise<LoadedNode> {
    const { node } = parent
    const firstKey = node.keys[index]
    if (firstKey === undefined || node.level === 0) throw new RangeError(`no child ${index} in tree node ${parent.cid}`)
    return await this.load(valueAt(node, index), { level: node.level - 1, firstKey, upper: node.keys[index + 1] ?? parent.upper })
  }
}
