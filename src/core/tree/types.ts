import type { CID } from 'multiformats/cid'

/** Where tree nodes are read from. Errors it throws (e.g. not found) propagate unchanged. */
export interface BlockReader {
  get (cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>
}

/** One mapping of the tree. */
export interface TreeEntry {
  key: string
  value: CID
}

/** A change for `mutateTree`: `value: null` removes the key. */
export interface TreeChange {
  key: string
  value: CID | null
}

/** A tree node block: DAG-CBOR bytes and their CIDv1 (sha2-256). */
export interface TreeBlock {
  cid: CID
  bytes: Uint8Array
}

/** A tree root and the new blocks needed to read it (the caller persists them). */
export interface TreeResult {
  root: CID
  blocks: TreeBlock[]
}

/** One difference between two trees: added (`before: null`), removed (`after: null`) or changed. */
export interface TreeDiffEntry {
  key: string
  before: CID | null
  after: CID | null
}

/** A decoded tree node. Level 0 is a leaf; above, `values[i]` is the child whose first key is `keys[i]`. */
export interface TreeNode {
  level: number
  keys: string[]
  values: CID[]
}

/** Options accepted by every function that reads blocks. */
export interface TreeReadOptions {
  signal?: AbortSignal
}

/** Key range for `entries`: all given bounds apply together. */
export interface TreeRangeOptions extends TreeReadOptions {
  /** Only keys `>= gte`. */
  gte?: string
  /** Only keys `< lt`. */
  lt?: string
  /** Only keys starting with `prefix`. */
  prefix?: string
}
