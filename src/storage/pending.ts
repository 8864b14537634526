import { keys } from './state.ts'
import { inBatches } from './level-db.ts'
import type { RepoDb } from './level-db.ts'

/** Blocks moved per LevelDB batch when pending blocks are promoted. */
const BATCH = 4096

/**
 * Makes the blocks of the `pending` sublevel visible: copies them into the blockstore, then drops
 * the marker and the pending blocks. A large import stages its blocks in `pending`, checks that
 * its DAG is complete, keeps only the blocks to copy there, and then sets the
 * `import-promoting` marker and calls this; the copy takes several batches, so a process killed
 * half-way leaves the marker, and `recoverPending` finishes the copy when the repository opens.
 * Copying again what was already copied is harmless (same key, same bytes).
 */
export async function promotePending (db: RepoDb): Promise<number> {
  let moved = 0
  await inBatches(db.pending.iterator(), BATCH, async (entries) => {
    await db.blocks.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value })))
    moved += entries.length
  })
  await db.state.del(keys.importPromoting)
  await db.pending.clear()
  return moved
}

/** At open: finishes an interrupted promotion, or drops the blocks of an import that never finished (they were never visible). */
export async function recoverPending (db: RepoDb): Promise<'promoted' | 'dropped'> {
  if (db.state.getSync(keys.importPromoting) !== undefined) {
    await promotePending(db)
    return 'promoted'
  }
  await db.pending.clear()
  return 'dropped'
}
