import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { walkClosure } from '../../../core/closure.ts'
import { cidKey, RAW } from '../../../core/cid.ts'
import { decodeAny } from '../../../core/block.ts'
import type { Block } from '../../../core/block.ts'
import { pacer } from '../../../core/pace.ts'
import type { BlockReader } from '../../../core/tree/index.ts'
import { httpCodes, HttpError } from '../../errors.ts'

/** What the gateway reads blocks from: the repository's blocks, local only. */
export interface BlockSource extends BlockReader {
  has (cid: CID, options?: { signal?: AbortSignal }): Promise<boolean>
}

export type DagScope = 'block' | 'entity' | 'all'

/** An inclusive byte range of an entity; negative numbers count from its end, null `to` is its end. */
export interface EntityBytes {
  from: number
  to: number | null
}

export const isIdentity = (cid: CID): boolean => cid.multihash.code === identity.code

/** Reads a block; identity CIDs are answered from their own digest. */
export async function readBlock (blocks: BlockSource, cid: CID, signal?: AbortSignal): Promise<Uint8Array> {
  if (isIdentity(cid)) return cid.multihash.digest
  return await blocks.get(cid, { signal })
}

export async function hasBlock (blocks: BlockSource, cid: CID, signal?: AbortSignal): Promise<boolean> {
  return isIdentity(cid) || await blocks.has(cid, { signal })
}

/**
 * Resolves an IPLD path below `root` (DAG-CBOR map keys and list indexes, DAG-PB link names).
 * Returns the blocks it went through (to go first in the CAR) and the CID at the end.
 */
export async function resolvePath (blocks: BlockSource, root: CID, segments: string[], signal?: AbortSignal): Promise<{ via: Block[], target: CID }> {
  const via: Block[] = []
  let cid = root
  let i = 0
  while (i < segments.length) {
    const bytes = await readBlock(blocks, cid, signal)
    via.push({ cid, bytes })
    const value = decodeAny(cid, bytes)
    if (cid.code === dagPb.code) {
      const name = segments[i++] as string
      const link = (value as dagPb.PBNode).Links.find(l => l.Name === name)
      if (link == null) throw new HttpError(httpCodes.notFound, `no link "${name}" in ${cid}`)
      cid = link.Hash
      continue
    }
    let at: unknown = value
    while (i < segments.length) {
      const seg = segments[i++] as string
      if (Array.isArray(at) && /^\d+$/.test(seg)) at = at[Number(seg)]
      else if (at !== null && typeof at === 'object' && !(at instanceof Uint8Array) && CID.asCID(at) == null && Object.hasOwn(at, seg)) at = (at as Record<string, unknown>)[seg]
      else throw new HttpError(httpCodes.notFound, `path segment "${seg}" does not exist in ${cid}`)
      const link = CID.asCID(at)
      if (link != null) { cid = link; break }
      if (i === segments.length) throw new HttpError(httpCodes.notFound, `the path ends inside block ${cid}, not at a link`)
    }
  }
  return { via, target: cid }
}

/**
 * Blocks of `root` for a scope, depth-first pre-order, each once, identity blocks left out.
 * `seen` (keys as `cidKey`) holds blocks already sent (the blocks of the path): they are not sent
 * again. Every walk here lets the event loop run between pieces (`pacer`): block reads are
 * synchronous, and a full-DAG CAR of 100k blocks would otherwise hold the loop for seconds.
 */
export async function * scopeBlocks (blocks: BlockSource, root: CID, scope: DagScope, range: EntityBytes | undefined, signal?: AbortSignal, seen = new Set<string>()): AsyncGenerator<Block> {
  const emit = (cid: CID): boolean => {
    const key = cidKey(cid)
    if (seen.has(key)) return false
    seen.add(key)
    return true
  }
  if (scope === 'all') {
    // The closure walk every export shares (snapshots, sync answers): paced, keyed by CID bytes.
    for await (const block of walkClosure(identityAware(blocks), root, { signal, seen })) {
      if (!isIdentity(block.cid)) yield block
    }
    return
  }
  const rootBytes = await readBlock(blocks, root, signal)
  if (scope === 'block' || root.code === RAW) {
    if (emit(root) && !isIdentity(root)) yield { cid: root, bytes: rootBytes }
    return
  }
  if (root.code !== dagPb.code) {
    // For anything that is not UnixFS, the entity is the block.
    if (emit(root) && !isIdentity(root)) yield { cid: root, bytes: rootBytes }
    return
  }
  const node = dagPb.decode(rootBytes)
  const fs = node.Data != null ? tryUnixFs(node.Data) : undefined
  if (fs?.type === 'file' || fs?.type === 'raw') {
    yield * fileBlocks(blocks, root, rootBytes, range, fs.fileSize(), emit, signal)
    return
  }
  if (fs?.type === 'hamt-sharded-directory') {
    // A sharded directory's entity is its shard nodes: the links whose names are only the bucket prefix.
    const prefixLength = ((fs.fanout ?? 256n) - 1n).toString(16).length
    yield * shardBlocks(blocks, root, rootBytes, emit, signal, (link) => (link.Name?.length ?? 0) === prefixLength)
    return
  }
  // A plain directory (or symlink, metadata): its own block lists everything.
  if (emit(root) && !isIdentity(root)) yield { cid: root, bytes: rootBytes }
}

/** The block store as a closure walk reads it, identity CIDs answered from their digest. */
const identityAware = (blocks: BlockSource): BlockReader => ({
  get: async (cid, options) => await readBlock(blocks, cid, options?.signal)
})

function tryUnixFs (data: Uint8Array): UnixFS | undefined {
  try {
    return UnixFS.unmarshal(data)
  } catch {
    return undefined
  }
}

/** The shard nodes of a HAMT directory (DAG-PB links `follow` accepts), depth-first pre-order. */
async function * shardBlocks (
  blocks: BlockSource, root: CID, rootBytes: Uint8Array, emit: (cid: CID) => boolean, signal: AbortSignal | undefined,
  follow: (link: dagPb.PBLink) => boolean
): AsyncGenerator<Block> {
  const stack: Array<{ cid: CID, bytes?: Uint8Array }> = [{ cid: root, bytes: rootBytes }]
  const pace = pacer()
  while (stack.length > 0) {
    await pace()
    const next = stack.pop() as { cid: CID, bytes?: Uint8Array }
    if (!emit(next.cid)) continue
    const bytes = next.bytes ?? await readBlock(blocks, next.cid, signal)
    if (!isIdentity(next.cid)) yield { cid: next.cid, bytes }
    const links = next.cid.code === dagPb.code ? dagPb.decode(bytes).Links.filter(follow).map(l => l.Hash) : []
    for (let i = links.length - 1; i >= 0; i--) stack.push({ cid: links[i] as CID })
  }
}

/** The blocks of a UnixFS file needed for bytes [from, to] (all of them without a range). */
async function * fileBlocks (
  blocks: BlockSource, root: CID, rootBytes: Uint8Array, range: EntityBytes | undefined, size: bigint,
  emit: (cid: CID) => boolean, signal: AbortSignal | undefined
): AsyncGenerator<Block> {
  const total = Number(size)
  let from = 0
  let to = total - 1
  if (range != null) {
    from = range.from < 0 ? Math.max(0, total + range.from) : range.from
    to = range.to == null ? total - 1 : range.to < 0 ? total + range.to : Math.min(range.to, total - 1)
  }
  if (to < from) {
    // A zero-length range: the root block alone lets the client see why.
    if (emit(root)) yield { cid: root, bytes: rootBytes }
    return
  }
  const stack: Array<{ cid: CID, offset: number, bytes?: Uint8Array }> = [{ cid: root, offset: 0, bytes: rootBytes }]
  const pace = pacer()
  while (stack.length > 0) {
    await pace()
    const { cid, offset, bytes: known } = stack.pop() as { cid: CID, offset: number, bytes?: Uint8Array }
    const bytes = known ?? await readBlock(blocks, cid, signal)
    if (emit(cid) && !isIdentity(cid)) yield { cid, bytes }
    if (cid.code !== dagPb.code) continue
    const node = dagPb.decode(bytes)
    const fs = node.Data != null ? tryUnixFs(node.Data) : undefined
    if (fs == null) continue
    let at = offset + (fs.data?.byteLength ?? 0)
    const children: Array<{ cid: CID, offset: number }> = []
    node.Links.forEach((link, i) => {
      const length = Number(fs.blockSizes[i] ?? 0n)
      if (at <= to && at + length - 1 >= from) children.push({ cid: link.Hash, offset: at })
      at += length
    })
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as { cid: CID, offset: number })
  }
}

/** A short, stable digest of request parameters, for ETags. */
export const paramsTag = (text: string): string => createHash('sha256').update(text).digest('base64url').slice(0, 12)
