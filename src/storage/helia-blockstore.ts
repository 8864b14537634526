import { BaseBlockstore } from 'blockstore-core'
import { LevelBlockstore } from 'blockstore-level'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import type { Level } from 'level'
import type { CID } from 'multiformats/cid'
import { BlockNotFoundError } from '../core/errors.ts'
import { isFetched } from '../core/fetched.ts'
import { checkedBlock } from './block-store.ts'
import type { BlockStore } from './block-store.ts'
import { blockKey } from './level-db.ts'
import type { RepoDb } from './level-db.ts'

type Options = Parameters<Blockstore['put']>[2]

/**
 * Helia's blockstore in a repository: the repository's blocks, plus, kept apart, the blocks
 * Helia fetched from the network on its own (a write with the `FETCHED` option,
 * `src/core/fetched.ts`).
 *
 * - Reads see both: a bitswap walk that failed half-way and runs again does not fetch twice, and
 *   the bitswap server may give fetched blocks (their hashes were checked) to other peers.
 * - framehub's own reads (`src/storage/block-store.ts`, the gateway, sync answers, walks) see only
 *   the repository's blocks, whose closures are complete. A fetched block becomes one of them
 *   only through an import that checked its whole DAG (`snapshots.importCar`).
 * - Every other write (UnixFS attachments) goes to the repository's blocks, as before.
 * - `getAll` lists the repository's blocks only.
 *
 * Every read is hash-checked, with the same check as framehub's own reads (`checkedBlock`): a
 * block corrupted on disk is `ERR_BLOCK_CORRUPT` for UnixFS reads (attachments), pins and the
 * bitswap server too, never bytes. Blocks of the repository are read through its `BlockStore`
 * (so Helia also sees what the journal holds and LevelDB does not yet).
 */
export class HeliaBlockstore extends BaseBlockstore {
  readonly #stored: LevelBlockstore
  readonly #fetched: LevelBlockstore
  readonly #db: RepoDb
  readonly #blocks: BlockStore

  /** `blocks`: the repository's checked reads (`createBlockStore`). */
  constructor (db: RepoDb, blocks: BlockStore) {
    super()
    this.#db = db
    this.#blocks = blocks
    this.#stored = new LevelBlockstore(db.blocks as unknown as Level<string, Uint8Array>)
    this.#fetched = new LevelBlockstore(db.fetched as unknown as Level<string, Uint8Array>)
  }

  async open (): Promise<void> {
    await this.#stored.open()
    await this.#fetched.open()
  }

  async has (cid: CID, options?: Options): Promise<boolean> {
    return await this.#blocks.has(cid, options) || this.#db.fetched.getSync(blockKey(cid)) !== undefined
  }

  async put (cid: CID, bytes: InputPair['bytes'], options?: Options): Promise<CID> {
    return await (isFetched(options) ? this.#fetched : this.#stored).put(cid, bytes, options)
  }

  async * get (cid: CID, options?: Options): AsyncGenerator<Uint8Array> {
    // Stored first (one read when it is there), then fetched; both checked.
    const [stored] = await this.#blocks.getMany([cid], options)
    if (stored !== undefined) {
      yield stored
      return
    }
    const fetched = this.#db.fetched.getSync(blockKey(cid))
    if (fetched === undefined) throw notFound(cid)
    yield checkedBlock(cid, fetched)
  }

  async delete (cid: CID, options?: Options): Promise<void> {
    await this.#stored.delete(cid, options)
    await this.#fetched.delete(cid, options)
  }

  async * getAll (options?: Options): AsyncGenerator<Pair> {
    yield * this.#stored.getAll(options)
  }
}

/** A miss: `ERR_BLOCK_NOT_FOUND`, named as Helia and its modules expect of a blockstore (`NotFoundError`). */
function notFound (cid: CID): Error {
  const err = new BlockNotFoundError(`block ${cid} is not in this repository`, { cid: cid.toString() })
  err.name = 'NotFoundError'
  return err
}
