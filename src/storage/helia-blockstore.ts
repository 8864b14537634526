import { BaseBlockstore } from 'blockstore-core'
import { LevelBlockstore } from 'blockstore-level'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import type { Level } from 'level'
import type { CID } from 'multiformats/cid'
import { isFetched } from '../core/fetched.ts'
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
 */
export class HeliaBlockstore extends BaseBlockstore {
  readonly #stored: LevelBlockstore
  readonly #fetched: LevelBlockstore

  constructor (db: RepoDb) {
    super()
    this.#stored = new LevelBlockstore(db.blocks as unknown as Level<string, Uint8Array>)
    this.#fetched = new LevelBlockstore(db.fetched as unknown as Level<string, Uint8Array>)
  }

  async open (): Promise<void> {
    await this.#stored.open()
    await this.#fetched.open()
  }

  async has (cid: CID, options?: Options): Promise<boolean> {
    return await this.#stored.has(cid, options) || await this.#fetched.has(cid, options)
  }

  async put (cid: CID, bytes: InputPair['bytes'], options?: Options): Promise<CID> {
    return await (isFetched(options) ? this.#fetched : this.#stored).put(cid, bytes, options)
  }

  async * get (cid: CID, options?: Options): AsyncGenerator<Uint8Array> {
    // Stored first (one read when it is there); a miss there throws before yielding anything.
    try {
      yield * this.#stored.get(cid, options)
      return
    } catch (err) {
      if ((err as Error).name !== 'NotFoundError') throw err
    }
    yield * this.#fetched.get(cid, options)
  }

  async delete (cid: CID, options?: Options): Promise<void> {
    await this.#stored.delete(cid, options)
    await this.#fetched.delete(cid, options)
  }

  async * getAll (options?: Options): AsyncGenerator<Pair> {
    yield * this.#stored.getAll(options)
  }
}
