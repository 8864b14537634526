import type { Repo } from '../storage/repo.ts'
import { keys } from '../storage/state.ts'
import { PIN_PREFIX } from './pins.ts'

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
}

export interface RepoStatsComponents {
  repo: Pick<Repo, 'state' | 'db'>
}

type SizedDb = { approximateSize?: (start: string, end: string) => Promise<number> }

export function createRepoStats ({ repo }: RepoStatsComponents): RepoStats {
  // One key per session and per pin request.
  const count = async (prefix: string): Promise<number> => {
    let n = 0
    for await (const _ of repo.state.scan(prefix)) n++
    return n
  }
  const approximate = async (start: string, end: string): Promise<number> => {
    const db = repo.db.db as unknown as SizedDb
    return typeof db.approximateSize === 'function' ? await db.approximateSize(start, end).catch(() => 0) : 0
  }
  return {
    sessions: async () => await count(keys.sessionHeadsPrefix),
    pins: async () => await count(PIN_PREFIX),
    blocksBytes: async () => {
      const start = repo.db.blocks.prefix
      // The sublevel's keys are prefix + key; the prefix with its last character bumped ends the range.
      const end = start.slice(0, -1) + String.fromCharCode(start.charCodeAt(start.length - 1) + 1)
      return await approximate(start, end)
    },
    storeBytes: async () => await approximate('', '\uffff')
  }
}
