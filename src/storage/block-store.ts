import type { CID } from 'multiformats/cid'
import { verifyBlock } from '../core/block.ts'
import type { Block } from '../core/block.ts'
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

/**
 * Reads use LevelDB's synchronous `getSync`: a block read is a lookup in LevelDB's cache or the
 * OS page cache, about 6 µs here, while the asynchronous `get` adds a round trip through libuv's
 * thread pool and costs 50–80 µs. Walks of deep chains (one read per step, each naming the next)
 * and the gateway's raw-block route are made of such reads. A read from a cold disk blocks the
 * event loop for its duration; long walks yield to it between batches (see `walkClosure`).
 */
/** The bytes read for `cid`, hash-checked; `ERR_BLOCK_NOT_FOUND` when nothing was read. */
export function checkedBlock (cid: CID, bytes: Uint8Array | undefined): Uint8Array {
  if (bytes === undefined) throw new BlockNotFoundError(`block ${cid} is not in this repository`, { cid: cid.toString() })
  verifyBlock(cid, bytes)
  return bytes
}

export function createBlockStore (db: RepoDb, journal?: Journal): BlockStore {
  const read = (key: string): Uint8Array | undefined => journal?.block(key) ?? db.blocks.getSync(key)
  return {
    async get (cid, options) {
      options?.signal?.throwIfAborted()
      return checkedBlock(cid, read(blockKey(cid)))
    },
    async getMany (cids, options) {
      options?.signal?.throwIfAborted()
      return cids.map(cid => {
        const bytes = read(blockKey(cid))
        if (bytes !== undefined) verifyBlock(cid, bytes)
        return bytes
      })
    },
    async has (cid, options) {
      options?.signal?.throwIfAborted()
      return read(blockKey(cid)) !== undefined
    },
    async putMany (blocks, options) {
      options?.signal?.throwIfAborted()
      const batch = new WriteBatch(db)
      for (const b of blocks) batch.putBlock(b.cid, b.bytes)
      await batch.write()
    }
  }
}
