/**
 * A history-independent Merkle search tree (prolly tree) mapping string keys to CIDs.
 * The same set of entries always has the same root CID, however it was built.
 */
export type { BlockReader, TreeBlock, TreeChange, TreeDiffEntry, TreeEntry, TreeNode, TreeRangeOptions, TreeReadOptions, TreeResult } from './types.ts'
export { TreeError, TreeInputError } from './errors.ts'
export { TREE_FANOUT, compareKeys, isBoundary, keyHash } from './keys.ts'
export { decodeTreeNode, emptyTree, encodeTreeNode, isTreeNode } from './node.ts'
export { buildTree } from './build.ts'
export { mutateTree } from './mutate.ts'
export { countEntries, entries, getEntry, treeNodes } from './read.ts'
export { diffTrees } from './diff.ts'
