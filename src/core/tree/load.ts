import type { CID } from 'multiformats/cid'
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

/**
 * Reads, decodes and checks tree nodes against their parent entry, counting reads.
 * With `cache`, each CID is read at most once per loader (used by `mutateTree`).
 */
export class NodeLoader {
  readonly #reader: BlockReader
  readonly #signal: AbortSignal | undefined
  readonly #cache: Map<string, { bytes: Uint8Array, node: TreeNode }> | undefined

  constructor (reader: BlockReader, signal?: AbortSignal, cache = false) {
    this.#reader = reader
    this.#signal = signal
    this.#cache = cache ? new Map() : undefined
  }

  /** True when this loader has read `cid` (only tracked with `cache`). */
  has (cid: CID): boolean {
    return this.#cache?.has(cid.toString()) ?? false
  }

  /** Reads and decodes `cid`, then checks it against `expect`; throws `TreeError` on any mismatch. */
  async load (cid: CID, expect: NodeExpectation = {}): Promise<LoadedNode> {
    this.#signal?.throwIfAborted()
    const id = this.#cache === undefined ? undefined : cid.toString()
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
    const cid = node.values[index]
    const firstKey = node.keys[index]
    if (cid === undefined || firstKey === undefined || node.level === 0) throw new RangeError(`no child ${index} in tree node ${parent.cid}`)
    return await this.load(cid, { level: node.level - 1, firstKey, upper: node.keys[index + 1] ?? parent.upper })
  }
}
