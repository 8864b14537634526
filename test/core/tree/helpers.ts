import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { buildTree, isBoundary, treeNodes } from '../../../src/core/tree/index.ts'
import type { BlockReader, TreeBlock, TreeEntry, TreeNode } from '../../../src/core/tree/index.ts'

export class BlockMissingError extends Error {
  readonly code = 'ERR_TEST_BLOCK_MISSING'
}

/** An in-memory block store that counts reads. */
export class MemoryStore implements BlockReader {
  readonly blocks = new Map<string, Uint8Array>()
  reads = 0

  async get (cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    this.reads++
    const bytes = this.blocks.get(cid.toString())
    if (bytes === undefined) throw new BlockMissingError(`missing block ${cid}`)
    return bytes
  }

  put (blocks: Iterable<TreeBlock>): void {
    for (const block of blocks) this.blocks.set(block.cid.toString(), block.bytes)
  }
}

/** A raw-codec CID for a number (deterministic). */
export function valueCid (n: number | string): CID {
  return CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(`value:${n}`).digest()))
}

/** A small deterministic PRNG (mulberry32). */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Characters chosen to stress UTF-8 order: ASCII, 2- and 3-byte chars, U+E000..U+FFFF, astral. */
export const SPECIAL_CHARS = ['a', 'b', 'z', 'A', '0', '-', '/', '\u0000', '\u007f', '\u0080', '\u00e9', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uf8ff', '\ufeff', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}']

const codePoint = fc.integer({ min: 0, max: 0x10ffff })
  .filter(c => c < 0xd800 || c > 0xdfff)
  .map(c => String.fromCodePoint(c))

/** Short keys over a mix of special and arbitrary (non-surrogate) code points. */
export const keyArb: fc.Arbitrary<string> = fc.array(fc.oneof(fc.constantFrom(...SPECIAL_CHARS), codePoint), { maxLength: 6 })
  .map(cs => cs.join(''))
  .filter(k => !k.startsWith('\ufeff')) // cborg drops a leading U+FEFF; the tree rejects such keys

const PREFIXES = ['', 'a', 'ab', 'frame-', '\u00e9', '\ue000', '\uffff', '\u{10000}', '\u{1f600}x', 'Z']
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

/** `count` distinct pseudo-random keys (with shared prefixes and Unicode) from a seed. */
export function bulkKeys (seed: number, count: number): string[] {
  const random = prng(seed)
  const keys = new Set<string>()
  while (keys.size < count) {
    let key = PREFIXES[Math.floor(random() * PREFIXES.length)] as string
    const length = 1 + Math.floor(random() * 8)
    for (let i = 0; i < length; i++) {
      const r = random()
      key += r < 0.9 ? ALPHABET[Math.floor(random() * ALPHABET.length)] : SPECIAL_CHARS[Math.floor(random() * SPECIAL_CHARS.length)]
    }
    if (!key.startsWith('\ufeff')) keys.add(key)
  }
  return [...keys]
}

/** Shuffles in place with a PRNG. */
export function shuffle<T> (items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = items[i] as T
    items[i] = items[j] as T
    items[j] = t
  }
  return items
}

export function toEntries (model: Map<string, CID>): TreeEntry[] {
  return [...model].map(([key, value]) => ({ key, value }))
}

/** The root CID `buildTree` gives for a model. */
export function modelRoot (model: Map<string, CID>): CID {
  return buildTree(toEntries(model)).root
}

/** UTF-8 byte order, the reference for `compareKeys`. */
export function byteCompare (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** Every node of a tree (fails if a block is missing). */
export async function allNodes (store: BlockReader, root: CID): Promise<Array<{ cid: CID, node: TreeNode }>> {
  const nodes: Array<{ cid: CID, node: TreeNode }> = []
  for await (const { cid, node } of treeNodes(store, root)) nodes.push({ cid, node })
  return nodes
}

/** Depth (number of levels) of a tree. */
export async function depthOf (store: BlockReader, root: CID): Promise<number> {
  // eslint-disable-next-line no-unreachable-loop -- the root is the first node
  for await (const { node } of treeNodes(store, root)) return node.level + 1
  throw new Error('tree has no root')
}

/**
 * Checks the canonical chunking of a tree directly: inside every node only the last key may be
 * a boundary at that level, every node but the last of its level ends on one, and the root
 * level is the first with a single node.
 */
export async function assertCanonical (store: BlockReader, root: CID): Promise<void> {
  const levels = new Map<number, TreeNode[]>()
  for (const { node } of await allNodes(store, root)) {
    const list = levels.get(node.level) ?? []
    list.push(node)
    levels.set(node.level, list)
  }
  const top = Math.max(...levels.keys())
  for (const [level, nodes] of levels) {
    if (level < top && nodes.length < 2) throw new Error(`level ${level} has a single node below the root`)
    nodes.forEach((node, n) => {
      node.keys.forEach((key, i) => {
        const last = i === node.keys.length - 1
        if (!last && isBoundary(key, level)) throw new Error(`boundary key inside a node at level ${level}`)
        if (last && n < nodes.length - 1 && !isBoundary(key, level)) throw new Error(`node at level ${level} does not end on a boundary`)
      })
    })
  }
  const rootNodes = levels.get(top) ?? []
  if (rootNodes.length !== 1) throw new Error('root level has several nodes')
  if (top > 0 && (rootNodes[0] as TreeNode).keys.length < 2) throw new Error('root is an internal node with one entry')
}
