import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent as LibraryProgressEvent, ProgressOptions as LibraryProgressOptions } from 'progress-events'
import type { Signer } from '../core/signing.ts'
import { emptyTree } from '../core/tree/index.ts'
import type { BlockStore } from '../storage/block-store.ts'
import type { Journal } from '../storage/journal.ts'
import type { RepoDb, WriteBatch } from '../storage/level-db.ts'
import type { Repo } from '../storage/repo.ts'
import type { StateReader } from '../storage/state.ts'
import { createSessionHeads } from '../storage/session-heads.ts'
import type { SessionHeads } from '../storage/session-heads.ts'
import { createEventBus } from './events.ts'
import type { EventBus } from './events.ts'

/** Options of every service call that does I/O. */
export interface CallOptions {
  signal?: AbortSignal
}

/**
 * A progress event of long work, named `area:op:step` (e.g. `frames:import:progress`): the
 * `progress-events` type that helia and js-libp2p use, so an `onProgress` passes through both.
 */
export type ProgressEvent<T = unknown> = LibraryProgressEvent<string, T>

/** Options of long work that reports progress (`ProgressOptions` of `progress-events`). */
export type ProgressOptions<T = unknown> = LibraryProgressOptions<ProgressEvent<T>>

/**
 * Everything a node's services may be built from: the parts of the open repository, the lock
 * that orders writes, the event bus and the session heads. The node builds one (`createNode`);
 * each service declares the part it uses (`XComponents = Pick<ServiceComponents, …>`), as
 * js-libp2p's components do, so none sees the whole repository.
 */
export interface ServiceComponents {
  /** The repository's LevelDB, for what reads or writes its sublevels directly (the frame index, staging). */
  db: RepoDb
  /** Hash-checked block reads, journaled block writes. */
  blocks: BlockStore
  /** The repository's state keys (refs, sessions, pins, ...), journal included. */
  state: StateReader
  /** Starts an atomic write (blocks and state together). */
  writeBatch: () => WriteBatch
  /** Small frequent writes (trace appends): durable at once, in LevelDB shortly after. */
  journal: Journal
  /** Signs commits and trace steps as this node. */
  signer: Signer
  /** The node's identity: its libp2p peer id. */
  peerId: string
  /** The branch checked out in a new repository. */
  defaultBranch: string
  /** The Helia node over the repository's blocks, started on first use. */
  helia: () => Promise<Helia>
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
    db: repo.db,
    blocks: repo.blocks,
    state: repo.state,
    writeBatch: () => repo.batch(),
    journal: repo.journal,
    signer: repo.signer,
    peerId: repo.peerId,
    defaultBranch: repo.config.defaultBranch,
    helia: async () => await repo.helia(),
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
