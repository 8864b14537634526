import { inBatches } from './level-db.ts'
import type { RepoDb } from './level-db.ts'

/** Fetched blocks checked per LevelDB batch. */
const BATCH = 1024

/**
 * Drops the fetched blocks (`src/storage/helia-blockstore.ts`) that an import has since made
 * visible, and keeps the others: they may belong to a fetch that runs again. Returns how many it
 * dropped. (At open, when no fetch runs, the whole sublevel is cleared.)
 */
export async function dropFetched (db: RepoDb): Promise<number> {
  let dropped = 0
  await inBatches(db.fetched.keys(), BATCH, async (keys) => {
    const stored = await db.blocks.getMany(keys)
    const promoted = keys.filter((_, i) => stored[i] !== undefined)
    if (promoted.length > 0) await db.fetched.batch(promoted.map(key => ({ type: 'del' as const, key })))
    dropped += promoted.length
  })
  return dropped
}
