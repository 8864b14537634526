/**
 * A history-independent Merkle search tree (prolly tree) mapping string keys to CIDs.
 * The same set of entries always has the same root CID, however it was built.
 *
 * Format (for other implementations): each node is the canonical DAG-CBOR map
 * `{ level, keys, values }` named by a CIDv1 (dag-cbor, sha2-256). Level 0 nodes are leaves
 * (`values` are the mapped CIDs); a node at level L > 0 has `keys[i]` = first key of child i and
 * `values[i]` = that child, at level L - 1. Keys are in UTF-8 byte order (`compareKeys`).
 * Each level, the sorted sequence of its entries, is cut into nodes right after every key for
 * which `isBoundary(key, level)` holds (see `keyHash`), and at its end; the entries of level
 * L + 1 are `(first key, CID)` of the nodes of level L. The first level with exactly one node
 * holds the root; the empty set is the leaf with no entries. Keys are well-formed strings that
 * do not start with U+FEFF.
 */
export type { BlockReader, TreeBlock, TreeChange, TreeDiffEntry, TreeEntry, TreeNode, TreeRangeOptions, TreeReadOptions, TreeResult } from './types.ts'
export { TreeError, TreeInputError } from './errors.ts'
export { TREE_FANOUT, compareKeys, isBoundary, keyHash } from './keys.ts'
export { decodeTreeNode, emptyTree, encodeTreeNode, isTreeNode } from './node.ts'
export { buildTree, buildTreeOf, buildTreeOfPacked, leafStart, packedLeavesOf, packLeaves, treeAbove, unpackLeaves } from './build.ts'
export type { NewNode, PackedLeaves } from './build.ts'
export { mutateTree } from './mutate.ts'
export { countEntries, entries, getEntry, treeNodes } from './read.ts'
export { diffTrees } from './diff.ts'
export { valueAt } from './cbor.ts'
export type { DiffOptions } from './diff.ts'
export type { LoadedNode, NodeCache } from './load.ts'
