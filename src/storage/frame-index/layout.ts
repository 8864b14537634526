import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import type { FrameFilter, FrameTerms } from '../../core/frame-terms.ts'
import { emptyTree } from '../../core/tree/index.ts'

/**
 * The frame index: for each branch, postings from a frame's kind, tags and words (of its title
 * and body) to its id, so that the list filters read only what they return instead of scanning
 * the tree. It is derived data: it can always be rebuilt from the branch's tree.
 *
 * Layout (sublevel `index`, UTF-8 keys, `\0` separates parts; branch names never hold `\0`):
 *
 *   m \0 <branch>                            dag-cbor { v: INDEX_VERSION, tree: CID }: the tree whose
 *                                            frames the branch's keys describe, exactly
 *   x \0 <branch> \0 d \0 <id>               the frame's CID (bytes)
 *   x \0 <branch> \0 k \0 <kind> \0 <id>     ''   (postings: one per kind, tag and word)
 *   x \0 <branch> \0 t \0 <tag> \0 <id>      ''
 *   x \0 <branch> \0 w \0 <word> \0 <id>     ''
 *
 * A branch's keys all lie in [`x\0<branch>\0`, `x\0<branch>\x01`). Postings of one term are in
 * id order (LevelDB's byte order is the tree's UTF-8 key order), so filters intersect them by
 * seeking (leapfrog join) and a page costs O(page + skips), never O(frames).
 *
 * What the keys of a branch reflect:
 * - meta present and of this version: exactly the frames of `meta.tree`;
 * - no meta and no keys: the empty tree (nothing was ever indexed, a drop completed, or every
 *   frame was removed). This is the only form of the empty tree: no write stores a meta for it,
 *   so an index brought to the empty tree by updates and one rebuilt there hold the same keys;
 * - keys without a (valid) meta: unknown (an older version, or a rebuild or chunked update that
 *   was interrupted). Such an index is never read; it is rebuilt.
 * Every write keeps this true: a change that fits one batch moves keys and meta atomically, and a
 * longer one first deletes the meta, then writes in chunks, then writes the new meta.
 *
 * This folder: layout.ts (the keys, the meta, write sizes), read.ts (what the keys describe),
 * update.ts with chunked-writer.ts (keeping the keys at a branch's tree), join.ts (the ids that
 * match a filter). What a frame is indexed under is core's (src/core/frame-terms.ts).
 */

/** Bump when what is indexed (terms, tokenizer, layout) changes: older indexes are then rebuilt. */
export const INDEX_VERSION = 1

/**
 * Sizes of index writes. `maxBatchOps`: the most index operations `indexChanges` adds to the
 * batch of a ref move; a bigger change leaves the index behind (it catches up before the next
 * query that needs it) rather than holding a huge batch in memory. `chunkOps`: batch size of
 * catch-ups and rebuilds. Mutable for tests.
 */
export const indexLimits = { maxBatchOps: 50_000, chunkOps: 8192 }

export const EMPTY_TREE = emptyTree().root
export const SEP = '\x00'

/** A write to the index sublevel. */
export type Op = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/** Tags may hold any non-space character, `\0` included: escape `\x01` and `\0` so none is left. */
const esc = (term: string): string => /[\x00\x01]/.test(term) ? term.replace(/\x01/g, '\x01\x02').replace(/\x00/g, '\x01\x01') : term

export const indexKeys = {
  meta: (branch: string) => `m${SEP}${branch}`,
  metaPrefix: `m${SEP}`,
  metaEnd: 'm\x01',
  /** First key of a branch's data. */
  base: (branch: string) => `x${SEP}${branch}${SEP}`,
  /** Bound past a branch's data. */
  end: (branch: string) => `x${SEP}${branch}\x01`,
  doc: (branch: string, id: string) => `x${SEP}${branch}${SEP}d${SEP}${id}`,
  posting: (branch: string, field: 'k' | 't' | 'w', term: string) => `x${SEP}${branch}${SEP}${field}${SEP}${esc(term)}${SEP}`
} as const

/** Posting keys of one frame (without the doc key). */
export function postingKeys (branch: string, id: string, terms: FrameTerms): string[] {
  const out = [indexKeys.posting(branch, 'k', terms.kind) + id]
  for (const t of terms.tags) out.push(indexKeys.posting(branch, 't', t) + id)
  for (const w of terms.words) out.push(indexKeys.posting(branch, 'w', w) + id)
  return out
}

/** The posting lists a filter intersects (none for an empty filter). */
export function filterPrefixes (branch: string, filter: FrameFilter): string[] {
  const out: string[] = []
  if (filter.kind != null) out.push(indexKeys.posting(branch, 'k', filter.kind))
  if (filter.tag != null) out.push(indexKeys.posting(branch, 't', filter.tag))
  for (const w of filter.words ?? []) out.push(indexKeys.posting(branch, 'w', w))
  return out
}

/** End of the key range that starts with `prefix` (which ends with `\0`). */
export const rangeEnd = (prefix: string): string => prefix.slice(0, -1) + '\x01'

export function encodeMeta (tree: CID): Uint8Array {
  return dagCbor.encode({ v: INDEX_VERSION, tree })
}

/** The write that records `tree` as the one the keys describe (none is stored for the empty tree). */
export function metaOp (branch: string, tree: CID): Op {
  const key = indexKeys.meta(branch)
  return tree.equals(EMPTY_TREE) ? { type: 'del', key } : { type: 'put', key, value: encodeMeta(tree) }
}

export function decodeMeta (bytes: Uint8Array): CID | undefined {
  try {
    const value = dagCbor.decode(bytes) as { v?: unknown, tree?: unknown }
    if (value.v !== INDEX_VERSION) return undefined
    return CID.asCID(value.tree) ?? undefined
  } catch {
    return undefined
  }
}
