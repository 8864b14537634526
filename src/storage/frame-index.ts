import * as dagCbor from '@ipld/dag-cbor'
import type { AbstractSnapshot } from 'abstract-level'
import { CID } from 'multiformats/cid'
import { cidKey } from '../core/cid.ts'
import { verifyBlock } from '../core/block.ts'
import { isFramehubError } from '../core/errors.ts'
import type { Frame } from '../core/frame.ts'
import { compareKeys, decodeTreeNode, diffTrees, emptyTree, entries, TREE_FANOUT } from '../core/tree/index.ts'
import type { BlockReader, TreeDiffEntry } from '../core/tree/index.ts'
import { blockKey, WriteBatch } from './level-db.ts'
import type { RepoDb } from './level-db.ts'
import { checkedBlock } from './block-store.ts'

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
 */

/** Bump when what is indexed (terms, tokenizer, layout) changes: older indexes are then rebuilt. */
export const INDEX_VERSION = 1
/** Distinct words indexed per frame (the first ones, title first, then the body's strings). */
export const MAX_WORDS_PER_FRAME = 256
/** Longer words are cut to this many code points (in frames and in queries alike). */
export const MAX_WORD_LENGTH = 64
/** Body nesting deeper than this is not searched. */
const MAX_DEPTH = 64

/**
 * Sizes of index writes. `maxBatchOps`: the most index operations `indexChanges` adds to the
 * batch of a ref move; a bigger change leaves the index behind (it catches up before the next
 * query that needs it) rather than holding a huge batch in memory. `chunkOps`: batch size of
 * catch-ups and rebuilds. Mutable for tests.
 */
export const indexLimits = { maxBatchOps: 50_000, chunkOps: 8192 }

const EMPTY_TREE = emptyTree().root
const SEP = '\x00'
const EMPTY = new Uint8Array(0)

// ---------------------------------------------------------------------------------------------
// Terms

const WORD = /[\p{L}\p{N}\p{M}]+/gu

function clip (word: string): string {
  if (word.length <= MAX_WORD_LENGTH) return word
  // Cut on code points: a split surrogate pair would not survive UTF-8.
  return Array.from(word).slice(0, MAX_WORD_LENGTH).join('')
}

/** Adds the words of `text` to `out` (lower case, NFKC, letters/digits/marks), up to `max`. */
function addWords (text: string, out: Set<string>, max: number): void {
  for (const m of text.normalize('NFKC').toLowerCase().matchAll(WORD)) {
    if (out.size >= max) return
    out.add(clip(m[0]))
  }
}

function addBodyWords (value: unknown, out: Set<string>, depth: number): void {
  if (out.size >= MAX_WORDS_PER_FRAME) return
  if (typeof value === 'string') { addWords(value, out, MAX_WORDS_PER_FRAME); return }
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || depth > MAX_DEPTH) return
  if (CID.asCID(value) != null) return
  for (const v of Array.isArray(value) ? value : Object.values(value)) addBodyWords(v, out, depth + 1)
}

/** The words of a text query, as the index holds them (distinct, in order). */
export function queryWords (q: string): string[] {
  const out = new Set<string>()
  addWords(q, out, Number.POSITIVE_INFINITY)
  return [...out]
}

/** What a frame is indexed under. */
export interface FrameTerms {
  kind: string
  tags: string[]
  /** Distinct words of the title, then of the strings in the body; at most MAX_WORDS_PER_FRAME. */
  words: string[]
}

/** The terms of a frame as stored (decoded from its block: the body's keys in canonical order). */
export function frameTerms (frame: Frame): FrameTerms {
  const words = new Set<string>()
  if (typeof frame.title === 'string') addWords(frame.title, words, MAX_WORDS_PER_FRAME)
  addBodyWords(frame.body, words, 0)
  return { kind: frame.kind, tags: [...new Set(frame.tags ?? [])], words: [...words] }
}

/** A list filter. `words`: every one must be among the frame's words; an empty list matches nothing. */
export interface FrameFilter {
  kind?: string
  tag?: string
  words?: string[]
}

export function filterOf (options: { kind?: string, tag?: string, q?: string }): FrameFilter {
  const filter: FrameFilter = {}
  if (options.kind != null) filter.kind = options.kind
  if (options.tag != null) filter.tag = options.tag
  if (options.q != null) filter.words = queryWords(options.q)
  return filter
}

export function isEmptyFilter (filter: FrameFilter): boolean {
  return filter.kind == null && filter.tag == null && filter.words == null
}

/** The filter's meaning, on one frame: what the index answers for a whole tree. */
export function matchesFilter (frame: Frame, filter: FrameFilter, terms?: FrameTerms): boolean {
  if (filter.kind != null && frame.kind !== filter.kind) return false
  if (filter.tag != null && !(frame.tags ?? []).includes(filter.tag)) return false
  if (filter.words != null) {
    if (filter.words.length === 0) return false
    const have = new Set((terms ?? frameTerms(frame)).words)
    for (const w of filter.words) if (!have.has(w)) return false
  }
  return true
}

// ---------------------------------------------------------------------------------------------
// Keys

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
function postingKeys (branch: string, id: string, terms: FrameTerms): string[] {
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
const rangeEnd = (prefix: string): string => prefix.slice(0, -1) + '\x01'

// ---------------------------------------------------------------------------------------------
// State

export interface ReadOptions {
  snapshot?: AbstractSnapshot
  signal?: AbortSignal
}

export function encodeMeta (tree: CID): Uint8Array {
  return dagCbor.encode({ v: INDEX_VERSION, tree })
}

/** The write that records `tree` as the one the keys describe (none is stored for the empty tree). */
function metaOp (branch: string, tree: CID): Op {
  const key = indexKeys.meta(branch)
  return tree.equals(EMPTY_TREE) ? { type: 'del', key } : { type: 'put', key, value: encodeMeta(tree) }
}

function decodeMeta (bytes: Uint8Array): CID | undefined {
  try {
    const value = dagCbor.decode(bytes) as { v?: unknown, tree?: unknown }
    if (value.v !== INDEX_VERSION) return undefined
    return CID.asCID(value.tree) ?? undefined
  } catch {
    return undefined
  }
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

// ---------------------------------------------------------------------------------------------
// Updates

type Op = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/** A reader that sees the blocks a batch is about to write (e.g. the nodes of a merged tree). */
function batchReader (batch: WriteBatch, fallback: BlockReader): BlockReader {
  const db = batch.db
  let pending: Map<string, Uint8Array> | undefined
  return {
    async get (cid, options) {
      if (pending === undefined) {
        pending = new Map()
        for (const op of batch.ops) if (op.type === 'put' && op.sublevel === db.blocks) pending.set(op.key, op.value)
      }
      const bytes = pending.get(blockKey(cid))
      if (bytes !== undefined) {
        verifyBlock(cid, bytes)
        return bytes
      }
      return await fallback.get(cid, options)
    }
  }
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

/**
 * The terms of a stored frame, from its DAG-CBOR block: a light decode (no schema validation,
 * which the frame passed when it was written) that only reads the fields the index uses. A tree
 * entry that is not a frame (a hand-made snapshot) has no terms: it is listed by id, never by a filter.
 */
export function blockTerms (cid: CID, bytes: Uint8Array): FrameTerms | undefined {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch {
    return undefined
  }
  if (cid.code !== dagCbor.code || value === null || typeof value !== 'object') return undefined
  const f = value as Record<string, unknown>
  if (typeof f.id !== 'string' || typeof f.kind !== 'string') return undefined
  if (f.title !== undefined && typeof f.title !== 'string') return undefined
  if (f.tags !== undefined && !(Array.isArray(f.tags) && f.tags.every(t => typeof t === 'string'))) return undefined
  return frameTerms(f as unknown as Frame)
}

/** The index operations that take frame `change.key` from terms `before` to terms `after`. */
function opsFor (branch: string, change: TreeDiffEntry, before: FrameTerms | undefined, after: FrameTerms | undefined): Op[] {
  const ops: Op[] = []
  const old = before != null ? postingKeys(branch, change.key, before) : []
  const now = after != null ? postingKeys(branch, change.key, after) : []
  const keep = new Set(now)
  const had = new Set(old)
  for (const key of old) if (!keep.has(key)) ops.push({ type: 'del', key })
  for (const key of now) if (!had.has(key)) ops.push({ type: 'put', key, value: EMPTY })
  const doc = indexKeys.doc(branch, change.key)
  if (change.after != null) ops.push({ type: 'put', key: doc, value: change.after.bytes })
  else ops.push({ type: 'del', key: doc })
  return ops
}

/** The index operations of many tree changes, their frames read in one multi-get. */
async function changesOps (db: RepoDb, reader: BlockReader, branch: string, changes: TreeDiffEntry[], options: ReadOptions): Promise<Op[]> {
  const cids: CID[] = []
  for (const c of changes) {
    if (c.before != null) cids.push(c.before)
    if (c.after != null) cids.push(c.after)
  }
  options.signal?.throwIfAborted()
  const found = cids.map(cid => db.blocks.getSync(blockKey(cid), { snapshot: options.snapshot }))
  const terms = new Map<string, FrameTerms | undefined>()
  for (let i = 0; i < cids.length; i++) {
    const cid = cids[i] as CID
    let bytes = found[i]
    if (bytes === undefined) bytes = await reader.get(cid, options) // reports the missing block
    else verifyBlock(cid, bytes)
    terms.set(cidKey(cid), blockTerms(cid, bytes))
  }
  const ops: Op[] = []
  for (const c of changes) {
    for (const op of opsFor(branch, c, c.before != null ? terms.get(cidKey(c.before)) : undefined, c.after != null ? terms.get(cidKey(c.after)) : undefined)) ops.push(op)
  }
  return ops
}

/** Frames read per multi-get by catch-ups and rebuilds. */
const READ_CHUNK = 256

/**
 * Adds to `batch` (a ref move of `branch` from `oldTree` to `newTree`, about to be written) the
 * index writes that keep the branch's index at the branch's tree, so both land atomically.
 * Reads O(changes · log n) tree nodes and the changed frames, including blocks the batch itself
 * is about to write. Leaves the index as it is (still correct for the tree it names, only behind)
 * when it was not at `oldTree`'s level of trust or the change is too big for one batch; it then
 * catches up before it is next queried. Returns true when the batch brings the index to `newTree`.
 */
export async function indexChanges (batch: WriteBatch, branch: string, oldTree: CID, newTree: CID, options: ReadOptions & { reader?: BlockReader } = {}): Promise<boolean> {
  const db = batch.db
  const at = await indexedTree(db, branch)
  if (at == null) return false
  if (at.equals(newTree)) return true
  // An index that is behind stays behind (a catch-up brings it to the head, in the background or
  // before the next query): re-diffing from where it is on every ref move would cost each move
  // up to a full batch of reads, again and again, on a large branch.
  if (!at.equals(oldTree)) return false
  const reader = batchReader(batch, options.reader ?? dbReader(db))
  let ops: Op[]
  try {
    // From an empty index (the first commit after a big import) the change is the whole new
    // tree: one far over the limit is given up from the nodes above its leaves (a leaf holds
    // TREE_FANOUT entries on average), without reading a leaf. Giving up is always safe.
    if (at.equals(EMPTY_TREE) && await leavesAtLeast(reader, newTree, Math.ceil(indexLimits.maxBatchOps / 2 / TREE_FANOUT), options)) return false
    // Changed ids first (tree nodes only): a change that cannot fit is given up before any frame is read.
    const changes: TreeDiffEntry[] = []
    for await (const change of diffTrees(reader, at, newTree, options)) {
      changes.push(change)
      if (changes.length * 4 > indexLimits.maxBatchOps) return false
    }
    ops = await changesOps(db, reader, branch, changes, options)
    if (ops.length > indexLimits.maxBatchOps) return false
  } catch (err) {
    if (isFramehubError(err) && err.code === 'ERR_BLOCK_NOT_FOUND') return false
    throw err
  }
  for (const op of ops) {
    if (op.type === 'put') batch.putIndex(op.key, op.value)
    else batch.delIndex(op.key)
  }
  const meta = metaOp(branch, newTree)
  if (meta.type === 'put') batch.putIndex(meta.key, meta.value)
  else batch.delIndex(meta.key)
  return true
}

/**
 * True when tree `root` has at least `n` leaves, reading only its nodes above the leaves (level 1
 * and up, about 1/TREE_FANOUT of its nodes), and stopping as soon as it knows.
 */
async function leavesAtLeast (reader: BlockReader, root: CID, n: number, options: ReadOptions): Promise<boolean> {
  let level = [root]
  for (;;) {
    let next: CID[] = []
    let leaves = 0
    for (const cid of level) {
      options.signal?.throwIfAborted()
      const node = decodeTreeNode(await reader.get(cid, options), cid)
      if (node.level === 0) return n <= 1
      if (node.level === 1) {
        leaves += node.values.length
        if (leaves >= n) return true
      } else {
        next = next.concat(node.values)
      }
    }
    if (next.length === 0) return false
    level = next
  }
}

/** Adds to `batch` (which deletes `branch`) the end of its index; `clearIndexData` then frees the keys. */
export function dropIndex (batch: WriteBatch, branch: string): void {
  batch.delIndex(indexKeys.meta(branch))
}

/** Deletes the index data of a branch (its meta must be gone already, or go first). */
export async function clearIndexData (db: RepoDb, branch: string): Promise<void> {
  await db.index.del(indexKeys.meta(branch))
  await db.index.clear({ gte: indexKeys.base(branch), lt: indexKeys.end(branch) })
}

/** Writes ops in chunks; the first chunk of a multi-chunk update deletes the meta first. */
class ChunkedWriter {
  readonly #db: RepoDb
  readonly #branch: string
  #ops: Op[] = []
  #started = false
  written = 0

  constructor (db: RepoDb, branch: string, started: boolean) {
    this.#db = db
    this.#branch = branch
    this.#started = started
  }

  async add (ops: Op[]): Promise<void> {
    for (const op of ops) this.#ops.push(op)
    if (this.#ops.length >= indexLimits.chunkOps) await this.#flush()
  }

  async #flush (): Promise<void> {
    if (!this.#started) {
      // From here on the keys are between two trees: no meta until they are at the new one.
      this.#ops.unshift({ type: 'del', key: indexKeys.meta(this.#branch) })
      this.#started = true
    }
    this.written += this.#ops.length
    await this.#db.index.batch(this.#ops)
    this.#ops = []
  }

  /** Writes what is left together with the new meta (atomically, if nothing was flushed before). */
  async finish (tree: CID): Promise<void> {
    this.#ops.push(metaOp(this.#branch, tree))
    this.written += this.#ops.length
    await this.#db.index.batch(this.#ops)
    this.#ops = []
  }
}

export interface IndexUpdate {
  branch: string
  /** What was done: nothing (already there), a diff applied, a full rebuild, or the index dropped. */
  mode: 'current' | 'incremental' | 'rebuild' | 'drop'
  /** The tree the index now describes (null after a drop). */
  tree: CID | null
  /** Frames read (changed frames, or every frame for a rebuild). */
  frames: number
  /** Index keys written or deleted. */
  keys: number
}

/**
 * Brings the index of `branch` to `target` (null: the branch is gone, drop its index). From the
 * tree it describes, by a diff; from scratch when it cannot be trusted, when that tree is not
 * readable any more, or when `rebuild` is set. Writes in chunks: memory stays flat. The caller
 * keeps other writers of this branch's index (ref moves) out while it runs.
 */
export async function updateIndex (db: RepoDb, reader: BlockReader, branch: string, target: CID | null, options: ReadOptions & { rebuild?: boolean } = {}): Promise<IndexUpdate> {
  if (target == null) {
    await clearIndexData(db, branch)
    return { branch, mode: 'drop', tree: null, frames: 0, keys: 0 }
  }
  const at = options.rebuild === true ? null : await indexedTree(db, branch)
  if (at?.equals(target) === true) return { branch, mode: 'current', tree: target, frames: 0, keys: 0 }
  if (at != null) {
    const writer = new ChunkedWriter(db, branch, false)
    let frames = 0
    try {
      let changes: TreeDiffEntry[] = []
      for await (const change of diffTrees(reader, at, target, options)) {
        frames++
        changes.push(change)
        if (changes.length >= READ_CHUNK) {
          await writer.add(await changesOps(db, reader, branch, changes, options))
          changes = []
        }
      }
      await writer.add(await changesOps(db, reader, branch, changes, options))
      await writer.finish(target)
      return { branch, mode: 'incremental', tree: target, frames, keys: writer.written }
    } catch (err) {
      // The tree the index describes is gone (or unreadable): start over from the target.
      if (!(isFramehubError(err) && (err.code === 'ERR_BLOCK_NOT_FOUND' || err.code === 'ERR_BLOCK_CORRUPT'))) throw err
    }
  }
  await clearIndexData(db, branch)
  const writer = new ChunkedWriter(db, branch, true)
  let frames = 0
  let changes: TreeDiffEntry[] = []
  for await (const entry of entries(reader, target, options)) {
    frames++
    changes.push({ key: entry.key, before: null, after: entry.value })
    if (changes.length >= READ_CHUNK) {
      await writer.add(await changesOps(db, reader, branch, changes, options))
      changes = []
    }
  }
  await writer.add(await changesOps(db, reader, branch, changes, options))
  await writer.finish(target)
  return { branch, mode: 'rebuild', tree: target, frames, keys: writer.written }
}

// ---------------------------------------------------------------------------------------------
// Reads

/** The CID the index records for frame `id` of `branch`. */
export async function indexedCid (db: RepoDb, branch: string, id: string, options: ReadOptions = {}): Promise<CID | undefined> {
  const bytes = db.index.getSync(indexKeys.doc(branch, id), { snapshot: options.snapshot })
  return bytes === undefined ? undefined : CID.decode(bytes)
}

export interface CandidateOptions extends ReadOptions {
  /** Only ids >= start. */
  start?: string
  /** Only ids starting with prefix. */
  prefix?: string
  /** About how many ids the caller wants (a page size): the first read fetches that many keys. */
  pageHint?: number
}

/** Most keys of a posting list read in one LevelDB call. */
const MAX_KEY_BATCH = 1024

/**
 * The ids of the frames of `branch`'s indexed tree that match `filter` (not empty), in key order:
 * a leapfrog join of the filter's posting lists. Reads O(results + skips) keys.
 */
export async function * indexCandidates (db: RepoDb, branch: string, filter: FrameFilter, options: CandidateOptions = {}): AsyncGenerator<string, void, undefined> {
  if (filter.words != null && filter.words.length === 0) return
  const prefixes = filterPrefixes(branch, filter)
  if (prefixes.length === 0) throw new RangeError('indexCandidates needs a filter')
  let low = options.start ?? ''
  const { prefix } = options
  if (prefix != null && compareKeys(prefix, low) > 0) low = prefix
  const beyond = (id: string): boolean => prefix != null && !id.startsWith(prefix)
  // Keys are read in batches sized to what the query needs: LevelDB's own read-ahead fetches
  // about 16 KiB of keys (hundreds) for a page of 20.
  const first = Math.max(1, Math.min(MAX_KEY_BATCH, (options.pageHint ?? MAX_KEY_BATCH) + 1))
  const lists = prefixes.map(p => ({ p, it: db.index.keys({ gte: p + low, lt: rangeEnd(p), snapshot: options.snapshot }), keys: [] as string[], at: 0, size: first }))
  const read = async (list: typeof lists[number]): Promise<string | undefined> => {
    options.signal?.throwIfAborted()
    if (list.at >= list.keys.length) {
      list.keys = await list.it.nextv(list.size)
      list.at = 0
      list.size = Math.min(list.size * 2, MAX_KEY_BATCH)
    }
    const key = list.keys[list.at++]
    return key === undefined ? undefined : key.slice(list.p.length)
  }
  const seek = (list: typeof lists[number], target: string): void => {
    list.it.seek(target)
    list.keys = []
    list.at = 0
    list.size = 1
  }
  try {
    const n = lists.length
    let i = 0
    let target = await read(lists[0] as typeof lists[number])
    let agreed = 1
    while (target !== undefined) {
      if (beyond(target)) return
      if (agreed === n) {
        yield target
        const list = lists[i] as typeof lists[number]
        // One list reads on in batches; with several, every read is a seek (of one entry), so
        // that a read never fetches a batch that the next seek throws away.
        if (n > 1) seek(list, list.p + target + SEP)
        target = await read(list)
        agreed = 1
        continue
      }
      i = (i + 1) % n
      const list = lists[i] as typeof lists[number]
      seek(list, list.p + target)
      const id = await read(list)
      if (id === undefined) return
      if (id === target) agreed++
      else {
        target = id
        agreed = 1
      }
    }
  } finally {
    await Promise.all(lists.map(async l => { await l.it.close() }))
  }
}
