import { Level } from 'level'
import { base32upper } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'
import { blockKeyOf } from '../core/block-key.ts'
import { RepoCorruptError, RepoLockedError } from '../core/errors.ts'

import type { AbstractSublevel } from 'abstract-level'

type Bytes = Uint8Array
/** A sublevel with string keys and byte values. */
export type Sub = AbstractSublevel<Level<string, Bytes>, string | Buffer | Uint8Array, string, Bytes>

/**
 * The repository's one LevelDB: blocks, framehub state and Helia's datastore live in sublevels of
 * the same database, so a block write and the ref move that makes it visible commit in one atomic
 * batch, and LevelDB's own LOCK file keeps a second process out of the whole repository.
 */
export interface RepoDb {
  readonly db: Level<string, Bytes>
  /** Blocks, keyed `/` + base32upper(multihash): the same layout as `blockstore-level`. */
  readonly blocks: Sub
  /** framehub state: refs, working trees, sessions, forks, identity, config. */
  readonly state: Sub
  /** Helia's datastore. */
  readonly helia: Sub
  /** Blocks of an import that is not yet verified complete. */
  readonly pending: Sub
  /**
   * Blocks Helia fetched from the network one by one (the bitswap fallback), invisible to
   * framehub until an import checks their DAG complete (`src/storage/helia-blockstore.ts`).
   */
  readonly fetched: Sub
  /** Derived data that can be rebuilt from the DAG: the frame index (`src/storage/frame-index/`). */
  readonly index: Sub
  /** A put, delete or batch was written since the database opened (a clear is not counted: `onWrite`). */
  readonly wrote: boolean
  close (): Promise<void>
}

/**
 * The blockstore key of a CID: `/` + multibase base32upper(multihash) (prefix `B`, unpadded): what
 * `blockstore-level` uses, so Helia reads framehub's blocks and the other way round
 * (`core/block-key.ts`). Encoded through a table (`core/base32.ts`): the multibase encoder builds
 * strings a character at a time, which costs time and memory on 100k-block writes and walks.
 */
export function blockKey (cid: CID): string {
  return blockKeyOf(cid.multihash.bytes)
}

/** The multibase encoder's result, kept to check the table encoder against. */
export function blockKeyReference (cid: CID): string {
  return `/${base32upper.encoder.encode(cid.multihash.bytes)}`
}

/**
 * LevelDB's block cache (its default is 8 MiB). Block keys are hashes, so reads have no locality:
 * with the default, a walk of a 100k-frame repository (60 MB) misses the cache on most reads and
 * pays a read from the page cache, a checksum and a decompression each time.
 */
const CACHE_BYTES = 64 * 1024 * 1024

/**
 * LevelDB's memory table (its default is 4 MiB): writes pile up there (and in its log) and go to
 * a table file when it is full. At 4 MiB a 100k-frame import (50 MB of blocks) made a dozen
 * tables and the compactions that merge them; at 16 MiB LevelDB's own threads used about a third
 * less CPU time for the same import (measured on a shared 2-core machine; 48 MiB was no better).
 */
const WRITE_BUFFER_BYTES = 16 * 1024 * 1024

/**
 * True for LevelDB's own failures: a damaged file (`LEVEL_CORRUPTION`, "Corruption: …") or a
 * read of one that fails (`LEVEL_IO_ERROR`, "IO error: …", e.g. a truncated table file).
 * `getSync` throws them without a code, hence the messages.
 */
export function isStoreFailure (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown } | undefined
  if (e?.code === 'LEVEL_CORRUPTION' || e?.code === 'LEVEL_IO_ERROR') return true
  return typeof e?.message === 'string' && /^(Corruption|IO error): /.test(e.message)
}

/** A LevelDB failure as `ERR_REPO_CORRUPT` (exit 5), naming the store; anything else as it is. */
export function storeError (err: unknown, path: string): unknown {
  if (!isStoreFailure(err)) return err
  return new RepoCorruptError(`repository store ${path} is damaged: ${(err as Error).message} (restore it from a backup or a snapshot)`, { path }, { cause: err })
}

type Method = (...args: unknown[]) => unknown

/** Wraps `object[name]` (an own property afterwards) so that what it throws or rejects with goes through `map`. */
function guard (object: object, name: string, map: (err: unknown) => unknown, kind: 'sync' | 'async' | 'iterator'): void {
  const target = object as Record<string, Method>
  const original = target[name]
  if (typeof original !== 'function') return
  const call = original.bind(object)
  if (kind === 'sync') {
    target[name] = (...args) => { try { return call(...args) } catch (err) { throw map(err) } }
  } else if (kind === 'async') {
    target[name] = async (...args) => { try { return await call(...args) } catch (err) { throw map(err) } }
  } else {
    target[name] = (...args) => {
      const it = call(...args) as object
      for (const m of ['_next', '_nextv', '_all', '_seek']) guard(it, m, map, m === '_seek' ? 'sync' : 'async')
      return it
    }
  }
}

/**
 * Every read and write of the repository's LevelDB reports LevelDB's own failures as
 * `ERR_REPO_CORRUPT`: the store's private methods, which every sublevel and iterator ends in
 * (abstract-level), are wrapped once per database. A try/catch that throws nothing costs nothing
 * on the hot path (the gateway's `getSync`).
 */
function guardStore (db: Level<string, Bytes>, path: string): void {
  const map = (err: unknown): unknown => storeError(err, path)
  guard(db, '_getSync', map, 'sync')
  for (const name of ['_get', '_getMany', '_put', '_del', '_batch', '_clear']) guard(db, name, map, 'async')
  guard(db, '_iterator', map, 'iterator')
  const chained = (db as unknown as Record<string, Method>)._chainedBatch
  if (typeof chained === 'function') {
    const make = chained.bind(db)
    ;(db as unknown as Record<string, Method>)._chainedBatch = (...args) => {
      const batch = make(...args) as object
      guard(batch, '_write', map, 'async')
      return batch
    }
  }
}

export interface OpenRepoDbOptions {
  /** Create the store if it is not there (init). Opening a repository never does: a store that lost its CURRENT file is damaged, not new. */
  create?: boolean
}

export async function openRepoDb (path: string, options: OpenRepoDbOptions = {}): Promise<RepoDb> {
  const db = new Level<string, Bytes>(path, { keyEncoding: 'utf8', valueEncoding: 'view', cacheSize: CACHE_BYTES, createIfMissing: options.create ?? true, writeBufferSize: WRITE_BUFFER_BYTES })
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new RepoLockedError(`repository ${path} is in use by another framehub process (stop it or talk to its daemon)`, { path })
    }
    throw new RepoCorruptError(`cannot open repository store ${path}: ${(cause as Error | undefined)?.message ?? (err as Error).message}`, { path })
  }
  guardStore(db, path)
  let wrote = false
  onWrite(db, () => { wrote = true })
  const sub = (name: string): Sub => db.sublevel<string, Bytes>(name, { keyEncoding: 'utf8', valueEncoding: 'view' })
  const subs = { blocks: sub('blocks'), state: sub('state'), helia: sub('helia'), pending: sub('pending'), fetched: sub('fetched'), index: sub('index') }
  // Synchronous reads (`getSync`) need an open sublevel: a new one finishes opening a tick later.
  await Promise.all(Object.values(subs).map(async s => { await s.open() }))
  return {
    db,
    ...subs,
    get wrote () { return wrote },
    close: async () => {
      if (wrote) await flushMemoryTable(db)
      await db.close()
    }
  }
}

/**
 * Calls `noted` on every put, delete and batch written to `db` (every sublevel's writes end in
 * the root's private methods). Not on `clear`: the repository clears two sublevels at every open,
 * mostly empty ones, and a clear that did delete keys is only left in the log for the next open.
 */
function onWrite (db: Level<string, Bytes>, noted: () => void): void {
  const target = db as unknown as Record<string, Method>
  for (const name of ['_put', '_del', '_batch', '_chainedBatch']) {
    const original = target[name]
    if (typeof original !== 'function') continue
    const call = original.bind(db)
    target[name] = (...args) => { noted(); return call(...args) }
  }
}

/** `level` on Node is `classic-level`, which has `compactRange` and `getProperty` (its types leave them out: browsers lack them). */
interface Compactable {
  compactRange: (start: string, end: string) => Promise<void>
  getProperty: (property: string) => string
}

/**
 * LevelDB starts merging level-0 tables (a compaction) when there are 4 of them
 * (`kL0_CompactionTrigger`).
 */
const L0_COMPACTION_TRIGGER = 4

/**
 * Writes LevelDB's memory table out to a table before the database closes, unless that table would
 * start a compaction.
 *
 * LevelDB keeps its latest writes in memory (and in its log) until the memory table is full
 * (WRITE_BUFFER_BYTES). Left there, the next open replays the log into a table of level 0 before
 * it answers (recovery always writes to level 0): after a big import, the next command spent
 * about a third of a second on it, and after a small write it leaves a tiny level-0 table. Flushed
 * here, where the writes are in memory already, the table goes where it overlaps nothing (up to
 * level 2), and the next open has nothing to replay. Two tiny tables left by `init` made a
 * 100k-frame `frame import`'s second memory-table flush the fourth table of level 0: the import
 * then merged 17–25 MB of its own tables in its own process, on a core its encoding needed.
 *
 * A compaction of a range beyond every key writes the memory table out and compacts nothing.
 * But a table that makes level 0's fourth starts a compaction, and the manual one queues behind
 * it: a `commit` after a big import waited 0.4 s in `close` for a 34 MB merge. So with 3 tables in
 * level 0 the writes stay in the log, and the next process to open the database compacts in the
 * background (a one-shot command stops that when it closes; the daemon finishes it).
 */
async function flushMemoryTable (db: Level<string, Bytes>): Promise<void> {
  const store = db as unknown as Compactable
  try {
    if (Number(store.getProperty('leveldb.num-files-at-level0')) + 1 >= L0_COMPACTION_TRIGGER) return
    await store.compactRange(FLUSH_RANGE[0], FLUSH_RANGE[1])
  } catch {}
}

/** A key range past every key (sublevel keys start with `!`, 0x21). */
const FLUSH_RANGE = ['\u007f', '\u007f\u007f'] as const

/** Reads an iterator `size` items at a time, hands each batch to `each`, and closes it. */
export async function inBatches<T> (it: { nextv: (size: number) => Promise<T[]>, close: () => Promise<void> }, size: number, each: (items: T[]) => Promise<void>): Promise<void> {
  try {
    for (;;) {
      const items = await it.nextv(size)
      if (items.length === 0) return
      await each(items)
    }
  } finally {
    await it.close()
  }
}

/** One atomic write across sublevels. */
export class WriteBatch {
  readonly ops: Array<{ type: 'put', sublevel: Sub, key: string, value: Bytes } | { type: 'del', sublevel: Sub, key: string }> = []
  readonly #db: RepoDb

  constructor (db: RepoDb) {
    this.#db = db
  }

  putBlock (cid: CID, bytes: Bytes): this {
    this.ops.push({ type: 'put', sublevel: this.#db.blocks, key: blockKey(cid), value: bytes })
    return this
  }

  /** A block under its key (`blockKey` of its CID), made already: an import's worker threads make them. */
  putBlockByKey (key: string, bytes: Bytes): this {
    this.ops.push({ type: 'put', sublevel: this.#db.blocks, key, value: bytes })
    return this
  }

  putState (key: string, value: Bytes): this {
    this.ops.push({ type: 'put', sublevel: this.#db.state, key, value })
    return this
  }

  delState (key: string): this {
    this.ops.push({ type: 'del', sublevel: this.#db.state, key })
    return this
  }

  putIndex (key: string, value: Bytes): this {
    this.ops.push({ type: 'put', sublevel: this.#db.index, key, value })
    return this
  }

  delIndex (key: string): this {
    this.ops.push({ type: 'del', sublevel: this.#db.index, key })
    return this
  }

  /** The database this batch writes to (for code that adds derived writes, e.g. the frame index). */
  get db (): RepoDb {
    return this.#db
  }

  get size (): number {
    return this.ops.length
  }

  async write (): Promise<void> {
    if (this.ops.length === 0) return
    await this.#db.db.batch(this.ops as never)
    this.ops.length = 0
  }
}
