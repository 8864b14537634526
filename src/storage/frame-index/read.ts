import type { AbstractSnapshot } from 'abstract-level'
import { CID } from 'multiformats/cid'
import type { BlockReader } from '../../core/tree/index.ts'
import { checkedBlock } from '../block-store.ts'
import { blockKey } from '../level-db.ts'
import type { RepoDb } from '../level-db.ts'
import { decodeMeta, EMPTY_TREE, indexKeys, SEP } from './layout.ts'

/* Reads of the frame index: the tree a branch's keys describe, the branches indexed, a frame's CID. */

export interface ReadOptions {
  snapshot?: AbstractSnapshot
  signal?: AbortSignal
}

/**
 * The tree a branch's index describes: `meta.tree`, or the empty tree when nothing is stored, or
 * null when the keys cannot be trusted (must be rebuilt).
 */
export async function indexedTree (db: RepoDb, branch: string, options: ReadOptions = {}): Promise<CID | null> {
  const meta = db.index.getSync(indexKeys.meta(branch), { snapshot: options.snapshot })
  if (meta !== undefined) return decodeMeta(meta) ?? null
  const any = await db.index.keys({ gte: indexKeys.base(branch), lt: indexKeys.end(branch), limit: 1, snapshot: options.snapshot }).all()
  return any.length === 0 ? EMPTY_TREE : null
}

/** Branches that have index data or meta (including leftovers of deleted branches). */
export async function indexedBranches (db: RepoDb): Promise<string[]> {
  const out = new Set<string>()
  for await (const key of db.index.keys({ gte: indexKeys.metaPrefix, lt: indexKeys.metaEnd })) out.add(key.slice(indexKeys.metaPrefix.length))
  // Data without meta: skip from branch to branch.
  let from = `x${SEP}`
  for (;;) {
    const [key] = await db.index.keys({ gte: from, lt: 'x\x01', limit: 1 }).all()
    if (key === undefined) break
    const branch = key.slice(2, key.indexOf(SEP, 2))
    out.add(branch)
    from = indexKeys.end(branch)
  }
  return [...out].sort()
}

/** Reads blocks straight from the repository (hash-checked), optionally from a snapshot. */
export function dbReader (db: RepoDb, snapshot?: AbstractSnapshot): BlockReader {
  return {
    async get (cid, options) {
      options?.signal?.throwIfAborted()
      return checkedBlock(cid, db.blocks.getSync(blockKey(cid), { snapshot }))
    }
  }
}

/** The CID the index records for frame `id` of `branch`. */
export async function indexedCid (db: RepoDb, branch: string, id: string, options: ReadOptions = {}): Promise<CID | undefined> {
  const bytes = db.index.getSync(indexKeys.doc(branch, id), { snapshot: options.snapshot })
  return bytes === undefined ? undefined : CID.decode(bytes)
}
