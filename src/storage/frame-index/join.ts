import type { FrameFilter } from '../../core/frame-terms.ts'
import { compareKeys } from '../../core/tree/index.ts'
import type { RepoDb } from '../level-db.ts'
import { filterPrefixes, rangeEnd, SEP } from './layout.ts'
import type { ReadOptions } from './read.ts'

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
