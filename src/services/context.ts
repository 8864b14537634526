import type { CID } from 'multiformats/cid'
import { emptyTree } from '../core/tree/index.ts'
import type { Repo } from '../storage/repo.ts'
import { createSessionHeads } from '../storage/session-heads.ts'
import type { SessionHeads } from '../storage/session-heads.ts'
import { createEventBus } from './events.ts'
import type { EventBus } from './events.ts'

/** Options of every service call that does I/O. */
export interface CallOptions {
  signal?: AbortSignal
}

/** A progress event of long work, named `area:op:step` (e.g. `frames:import:progress`). */
export interface ProgressEvent<T = unknown> {
  type: string
  detail: T
}

export interface ProgressOptions<T = unknown> {
  onProgress?: (event: ProgressEvent<T>) => void
}

/** What every service is built from: the open repository and the lock that orders writes. */
export interface ServiceComponents {
  repo: Repo
  /**
   * Runs `fn` after every write started before it: a read-modify-write of refs is never
   * interleaved. Journaled writes reach LevelDB first, so `fn` may read LevelDB directly, unless
   * `fn` itself only journals (`journaled: true`).
   */
  exclusive: <T>(fn: () => Promise<T>, options?: { journaled?: boolean }) => Promise<T>
  /** Where services announce what they wrote, after it has landed. */
  events: EventBus
  /** Heads of the reasoning sessions (shared by traces, which move them, and commits, which name them). */
  sessions: SessionHeads
}

export const EMPTY_TREE: CID = emptyTree().root

export function createServiceComponents (repo: Repo): ServiceComponents {
  let tail: Promise<unknown> = Promise.resolve()
  return {
    repo,
    events: createEventBus(),
    sessions: createSessionHeads(repo.state),
    exclusive: async <T>(fn: () => Promise<T>, options?: { journaled?: boolean }): Promise<T> => {
      const step = options?.journaled === true ? fn : async () => { await repo.journal.flush(); return await fn() }
      const run = tail.then(step, step)
      tail = run.catch(() => {})
      return await run
    }
  }
}
