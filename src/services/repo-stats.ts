import type { ServiceComponents } from './context.ts'
import { keys } from '../storage/state.ts'
import { PIN_PREFIX } from './pins.ts'
import { repoCounter } from './repo-counts.ts'
import type { RepoCounterComponents, RepoCounts } from './repo-counts.ts'

export type { RepoCounts } from './repo-counts.ts'

/** Sizes and counts of a repository, as monitoring reads them (`/metrics`). */
export interface RepoStats {
  /** Reasoning sessions in the repository. */
  sessions (): Promise<number>
  /** Pin requests recorded by the pinning service API. */
  pins (): Promise<number>
  /**
   * Approximate on-disk bytes of the stored blocks (LevelDB's estimate: data not yet compacted to
   * disk counts later); 0 when the store cannot estimate.
   */
  blocksBytes (): Promise<number>
  /** Approximate on-disk bytes of the whole store (LevelDB's estimate); 0 when it cannot estimate. */
  storeBytes (): Promise<number>
  /**
   * Frames per branch head and distinct commits under the branches: counted once, then kept up to
   * date from what changed (`repo-counts.ts`); two calls at once share one count.
   */
  counts (): Promise<RepoCounts>
}

export interface RepoStatsComponents extends Pick<ServiceComponents, 'state' | 'db' | 'blocks'> {
  refs: RepoCounterComponents['refs']
}

type SizedDb = { approximateSize?: (start: string, end: string) => Promise<number> }

export function createRepoStats ({ state, db, blocks, refs }: RepoStatsComponents): RepoStats {
  const counts = repoCounter({ blocks, refs })
  // One key per session and per pin request.
  const count = async (prefix: string): Promise<number> => {
    let n = 0
    for await (const _ of state.scan(prefix)) n++
    return n
  }
  const approximate = async (start: string, end: string): Promise<number> => {
    const level = db.db as unknown as SizedDb
    return typeof level.approximateSize === 'function' ? await level.approximateSize(start, end).catch(() => 0) : 0
  }
  return {
    sessions: async () => await count(keys.sessionHeadsPrefix),
    pins: async () => await count(PIN_PREFIX),
    blocksBytes: async () => {
      const start = db.blocks.prefix
      // The sublevel's keys are prefix + key; the prefix with its last character bumped ends the range.
      const end = start.slice(0, -1) + String.fromCharCode(start.charCodeAt(start.length - 1) + 1)
      return await approximate(start, end)
    },
    storeBytes: async () => await approximate('', '\uffff'),
    counts
  }
}
