import type { CID } from 'multiformats/cid'
import { verifyBlock } from '../core/codec.ts'
import type { Block } from '../core/codec.ts'
import { BlockNotFoundError } from '../core/errors.ts'
import { blockKey, WriteBatch } from './level-db.ts'
import type { RepoDb } from './level-db.ts'
import type { Journal } from './journal.ts'

/** Options every I/O call takes. */
export interface AbortOptions {
  signal?: AbortSignal
}

/**
 * The repository's blocks. Reads verify the hash (a corrupted block on disk is reported, never
 * returned); writes go through one LevelDB batch instead of one write per block.
 */
export interface BlockStore {
  get (cid: CID, options?: AbortOptions): Promise<Uint8Array>
  has (cid: CID, options?: AbortOptions): Promise<boolean>
  /** Reads many blocks in one LevelDB call; `undefined` where a block is missing. Hashes are checked. */
  getMany (cids: CID[], options?: AbortOptions): Promise<Array<Uint8Array | undefined>>
  /** Writes blocks in one atomic batch. */
  putMany (blocks: Iterable<Block>, options?: AbortOptions): Promise<void>
}

export function createBlockStore (db: RepoDb, journal?: Journal): BlockStore {
  return {
    async get (cid, options) {
      options?.signal?.throwIfAborted()
      const key = blockKey(cid)
      const bytes = journal?.block(key) ?? await db.blocks.get(key)
      if (bytes === undefined) throw new BlockNotFoundError(`block ${cid} is not in this repository`, { cid: cid.toString() })
      verifyBlock(cid, bytes)
      return bytes
    },
    async getMany (cids, options) {
      options?.signal?.throwIfAborted()
      const keys = cids.map(blockKey)
      const values = await db.blocks.getMany(keys)
      if (journal != null) keys.forEach((k, i) => { values[i] ??= journal.block(k) })
      return values.map((bytes, i) => {
        if (bytes !== undefined) verifyBlock(cids[i] as CID, bytes)
        return bytes
      })
    },
    async has (cid, options) {
      options?.signal?.throwIfAborted()
      const key = blockKey(cid)
      return journal?.block(key) !== undefined || (await db.blocks.get(key)) !== undefined
    },
    async putMany (blocks, options) {
      options?.signal?.throwIfAborted()
      const batch = new WriteBatch(db)
      for (const b of blocks) batch.putBlock(b.cid, b.bytes)
      await batch.write()
    }
  }
}
