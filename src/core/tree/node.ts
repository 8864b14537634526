import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { encodeNodeBytes, parseNodeBytes } from './cbor.ts'
import { TreeError } from './errors.ts'
import { compareKeys, isValidKey } from './keys.ts'
import type { TreeBlock, TreeNode, TreeResult } from './types.ts'

const SHA2_256 = 0x12
const DAG_CBOR = 0x71
const NODE_FIELDS = 3

/** Why `value` is not a tree node, or undefined when it is one. */
function shapeProblem (value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || CID.asCID(value) !== null || value instanceof Uint8Array) return 'not a map'
  const record = value as Record<string, unknown>
  const fields = Object.keys(record)
  if (fields.length !== NODE_FIELDS || !Object.hasOwn(record, 'level') || !Object.hasOwn(record, 'keys') || !Object.hasOwn(record, 'values')) return 'fields must be exactly level, keys, values'
  const { level, keys, values } = record
  if (typeof level !== 'number' || !Number.isSafeInteger(level) || level < 0) return 'level must be a non-negative integer'
  if (!Array.isArray(keys) || !Array.isArray(values)) return 'keys and values must be lists'
  if (keys.length !== values.length) return 'keys and values differ in length'
  for (const key of keys as unknown[]) {
    if (typeof key !== 'string') return 'keys must be strings'
  }
  for (const v of values as unknown[]) {
    if (CID.asCID(v) === null) return 'values must be CIDs'
  }
  return orderProblem({ level, keys: keys as string[], values: [] })
}

/** Why a node with string keys breaks the key or emptiness rules, or undefined. */
function orderProblem (node: TreeNode): string | undefined {
  const { level, keys } = node
  if (level > 0 && keys.length === 0) return 'internal node has no entries'
  let previous: string | undefined
  for (const key of keys) {
    if (!isValidKey(key)) return 'keys must be well-formed strings not starting with U+FEFF'
    if (previous !== undefined && compareKeys(previous, key) >= 0) return 'keys must be strictly ascending'
    previous = key
  }
  return undefined
}

/** True when `value` (a decoded DAG-CBOR value) has the shape of a tree node. */
export function isTreeNode (value: unknown): value is TreeNode {
  return shapeProblem(value) === undefined
}

/**
 * Decodes and strictly validates a tree node. Throws `TreeError` (`ERR_TREE_INVALID`) for
 * anything that is not the canonical DAG-CBOR encoding (so equal content always has one CID) of
 * a node-shaped value; `cid` only names the block in messages.
 */
export function decodeTreeNode (bytes: Uint8Array, cid?: CID): TreeNode {
  const parsed = parseNodeBytes(bytes)
  const problem = typeof parsed === 'string' ? parsed : orderProblem(parsed)
  if (problem !== undefined) {
    throw new TreeError(`${cid === undefined ? 'tree node' : `tree node ${cid}`} is malformed: ${problem}`, cid === undefined ? undefined : { cid: cid.toString() })
  }
  return parsed as TreeNode
}

/** Encodes a node known to be valid (internal use: skips validation). */
export function encodeNode (node: TreeNode): TreeBlock {
  return nodeBlock(encodeNodeBytes(node))
}

/** The block of a node's canonical bytes: the bytes and their CIDv1 (dag-cbor, sha2-256). */
export function nodeBlock (bytes: Uint8Array): TreeBlock {
  const digest = Digest.create(SHA2_256, createHash('sha256').update(bytes).digest())
  return { cid: CID.createV1(DAG_CBOR, digest), bytes }
}

/** Validates and encodes a tree node as DAG-CBOR with a CIDv1 (sha2-256). Throws `TreeError` if malformed. */
export function encodeTreeNode (node: TreeNode): TreeBlock {
  const problem = shapeProblem(node)
  if (problem !== undefined) throw new TreeError(`tree node is malformed: ${problem}`)
  return encodeNode(node)
}

const EMPTY = encodeNode({ level: 0, keys: [], values: [] })

/** The empty tree's only node. Readers know it without reading it from the store. */
export const EMPTY_NODE: { cid: CID, bytes: Uint8Array, node: TreeNode } = Object.freeze({
  cid: EMPTY.cid,
  bytes: EMPTY.bytes,
  node: Object.freeze({ level: 0, keys: Object.freeze([]) as unknown as string[], values: Object.freeze([]) as unknown as CID[] })
})

/** The empty tree: a leaf with no entries. Its CID is a constant. */
export function emptyTree (): TreeResult {
  return { root: EMPTY.cid, blocks: [{ cid: EMPTY.cid, bytes: new Uint8Array(EMPTY.bytes) }] }
}
