import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { TreeError } from './errors.ts'
import { compareKeys, isValidKey } from './keys.ts'
import type { TreeBlock, TreeNode } from './types.ts'

const SHA2_256 = 0x12
const NODE_FIELDS = 3

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

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
  if (level > 0 && keys.length === 0) return 'internal node has no entries'
  let previous: string | undefined
  for (const key of keys as unknown[]) {
    if (!isValidKey(key)) return 'keys must be well-formed strings not starting with U+FEFF'
    if (previous !== undefined && compareKeys(previous, key) >= 0) return 'keys must be strictly ascending'
    previous = key
  }
  for (const v of values as unknown[]) {
    if (CID.asCID(v) === null) return 'values must be CIDs'
  }
  return undefined
}

/** True when `value` (a decoded DAG-CBOR value) has the shape of a tree node. */
export function isTreeNode (value: unknown): value is TreeNode {
  return shapeProblem(value) === undefined
}

/**
 * Decodes and strictly validates a tree node. Throws `TreeError` (`ERR_TREE_INVALID`) for
 * anything that is not DAG-CBOR, not shaped like a node, or not canonically encoded (so equal
 * content always has one CID); `cid` only names the block in messages.
 */
export function decodeTreeNode (bytes: Uint8Array, cid?: CID): TreeNode {
  const name = cid === undefined ? 'tree node' : `tree node ${cid}`
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new TreeError(`${name} is not valid DAG-CBOR`, cid === undefined ? undefined : { cid: cid.toString() }, { cause: err })
  }
  const problem = shapeProblem(value)
  if (problem !== undefined) throw new TreeError(`${name} is malformed: ${problem}`, cid === undefined ? undefined : { cid: cid.toString() })
  const decoded = value as TreeNode
  const node = { level: decoded.level, keys: decoded.keys, values: decoded.values.map(v => CID.asCID(v) as CID) }
  // Only the canonical encoding is accepted, so equal content always means equal CIDs.
  if (!equalBytes(encodeNodeBytes(node), bytes)) throw new TreeError(`${name} is not canonically encoded`, cid === undefined ? undefined : { cid: cid.toString() })
  return node
}

const KEYS_FIELD = [0x64, 0x6b, 0x65, 0x79, 0x73] // text(4) "keys"
const LEVEL_FIELD = [0x65, 0x6c, 0x65, 0x76, 0x65, 0x6c] // text(5) "level"
const VALUES_FIELD = [0x66, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x73] // text(6) "values"
const CID_TAG = 42

function headerSize (value: number): number {
  return value < 24 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x100000000 ? 5 : 9
}

function writeHeader (out: Uint8Array, pos: number, major: number, value: number): number {
  const m = major << 5
  if (value < 24) {
    out[pos] = m | value
    return pos + 1
  }
  if (value < 0x100) {
    out[pos] = m | 24
    out[pos + 1] = value
    return pos + 2
  }
  if (value < 0x10000) {
    out[pos] = m | 25
    out[pos + 1] = value >>> 8
    out[pos + 2] = value & 0xff
    return pos + 3
  }
  if (value < 0x100000000) {
    out[pos] = m | 26
    new DataView(out.buffer, out.byteOffset).setUint32(pos + 1, value)
    return pos + 5
  }
  out[pos] = m | 27
  new DataView(out.buffer, out.byteOffset).setBigUint64(pos + 1, BigInt(value))
  return pos + 9
}

/** UTF-8 length of a well-formed string. */
function utf8Length (text: string): number {
  let length = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x80) length += c < 0x800 ? 1 : (c >= 0xd800 && c <= 0xdbff) ? 0 : 2
  }
  return length
}

/** Writes a well-formed string as UTF-8 (a surrogate pair is 2 units in, 4 bytes out). */
function writeUtf8 (out: Uint8Array, pos: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) {
      out[pos++] = c
    } else if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6)
      out[pos++] = 0x80 | (c & 0x3f)
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00)
      out[pos++] = 0xf0 | (cp >> 18)
      out[pos++] = 0x80 | ((cp >> 12) & 0x3f)
      out[pos++] = 0x80 | ((cp >> 6) & 0x3f)
      out[pos++] = 0x80 | (cp & 0x3f)
    } else {
      out[pos++] = 0xe0 | (c >> 12)
      out[pos++] = 0x80 | ((c >> 6) & 0x3f)
      out[pos++] = 0x80 | (c & 0x3f)
    }
  }
  return pos
}

/**
 * Encodes a node known to be valid (internal use: skips validation). Writes the canonical
 * DAG-CBOR bytes directly (map keys in length-then-bytes order: keys, level, values), which is
 * several times faster than the generic encoder; tests check it byte for byte against it.
 */
export function encodeNode (node: TreeNode): TreeBlock {
  const bytes = encodeNodeBytes(node)
  const digest = Digest.create(SHA2_256, createHash('sha256').update(bytes).digest())
  return { cid: CID.createV1(dagCbor.code, digest), bytes }
}

function encodeNodeBytes (node: TreeNode): Uint8Array {
  const { level, keys, values } = node
  const n = keys.length
  const keyLengths: number[] = []
  let size = 1 + KEYS_FIELD.length + headerSize(n) + LEVEL_FIELD.length + headerSize(level) + VALUES_FIELD.length + headerSize(n)
  for (let i = 0; i < n; i++) {
    const length = utf8Length(keys[i] as string)
    keyLengths.push(length)
    const cidLength = (values[i] as CID).bytes.byteLength + 1
    size += headerSize(length) + length + 2 + headerSize(cidLength) + cidLength
  }
  const bytes = new Uint8Array(size)
  let pos = 0
  bytes[pos++] = 0xa3
  for (const b of KEYS_FIELD) bytes[pos++] = b
  pos = writeHeader(bytes, pos, 4, n)
  for (let i = 0; i < n; i++) {
    pos = writeHeader(bytes, pos, 3, keyLengths[i] as number)
    pos = writeUtf8(bytes, pos, keys[i] as string)
  }
  for (const b of LEVEL_FIELD) bytes[pos++] = b
  pos = writeHeader(bytes, pos, 0, level)
  for (const b of VALUES_FIELD) bytes[pos++] = b
  pos = writeHeader(bytes, pos, 4, n)
  for (let i = 0; i < n; i++) {
    const cid = (values[i] as CID).bytes
    pos = writeHeader(bytes, pos, 6, CID_TAG)
    pos = writeHeader(bytes, pos, 2, cid.byteLength + 1)
    bytes[pos++] = 0 // multibase identity prefix required by DAG-CBOR CID links
    bytes.set(cid, pos)
    pos += cid.byteLength
  }
  return bytes
}

/** Validates and encodes a tree node as DAG-CBOR with a CIDv1 (sha2-256). Throws `TreeError` if malformed. */
export function encodeTreeNode (node: TreeNode): TreeBlock {
  const problem = shapeProblem(node)
  if (problem !== undefined) throw new TreeError(`tree node is malformed: ${problem}`)
  return encodeNode(node)
}

/** The empty tree: a leaf with no entries. Its CID is a constant. */
export function emptyTree (): { root: CID, blocks: TreeBlock[] } {
  const block = encodeNode({ level: 0, keys: [], values: [] })
  return { root: block.cid, blocks: [block] }
}
