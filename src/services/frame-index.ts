import { setTimeout as sleep } from 'node:timers/promises'
import type { AbstractSnapshot } from 'abstract-level'
import type { CID } from 'multiformats/cid'
import { RefNotFoundError } from '../core/errors.ts'
import { decodeFrame } from '../core/frame.ts'
import { compareKeys, diffTrees, entries } from '../core/tree/index.ts'
import type { BlockReader, TreeDiffEntry } from '../core/tree/index.ts'
import { filterOf, isEmptyFilter, matchesFilter } from '../core/frame-terms.ts'
import { dbReader, indexedBranches, indexedCid, indexedTree } from '../storage/frame-index/read.ts'
import { updateIndex } from '../storage/frame-index/update.ts'
import { indexCandidates } from '../storage/frame-index/join.ts'
import type { FrameFilter } from '../core/frame-terms.ts'
import type { IndexUpdate } from '../storage/frame-index/update.ts'
import type { BlockStore } from '../storage/block-store.ts'
import type { RepoDb } from '../storage/level-db.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'
import type { EventBus, NodeEvents } from './events.ts'
import type { FrameRecord, ListFramesOptions } from './frames.ts'
import type { Refs } from './refs.ts'

/** Where a branch's index stands. */
export interface IndexStatus {
  branch: string
  /** The branch's committed tree; null when the branch has no commits (or no longer exists). */
  head: CID | null
  /** The tree the index describes; null when it must be rebuilt before it is used. */
  indexed: CID | null
  /** True when the index describes the branch's head (or there is nothing to index). */
  current: boolean
}

/** Where a rebuild stands: `done` of `total` branches rebuilt, `branch` the one at work (or last done). */
export interface RebuildProgress {
  branch: string
  done: number
  total: number
}

/** The frame index as a service: filtered lists, and keeping the index up to date. */
export interface FrameIndexService {
  /**
   * The frames of a tree in id order, filtered. With kind, tag or q, answered from the index of a
   * branch, overlaid with the diff from the tree that index describes to the tree asked for (the
   * staged changes, for the working tree): O(page + changes), never a scan of the tree.
   */
  list (options?: ListFramesOptions): AsyncIterable<FrameRecord>
  /** Brings a branch's index to the branch's head (a diff, or a rebuild when it cannot be trusted). */
  catchUp (branch: string, options?: CallOptions): Promise<IndexUpdate>
  /**
   * Rebuilds the index of a branch from its tree; without a branch, of every branch, and drops the
   * index data of branches that no longer exist.
   */
  rebuild (branch?: string, options?: CallOptions & ProgressOptions<RebuildProgress>): Promise<IndexUpdate[]>
  status (): Promise<IndexStatus[]>
  /**
   * Keeps every branch's index current in the background: the branches behind now, then each
   * branch a ref move leaves behind (a commit too big to index in its own write, an index left
   * stale by an older version), instead of on the next query. Failures are logged; queries fall
   * back to the tree. Idempotent; stopped by `close`.
   */
  start (): void
  /** Stops background catch-ups (they resume on the next query, or the next `start`). */
  close (): Promise<void>
}

/** What the frame index uses. */
export interface FrameIndexComponents {
  db: RepoDb
  blocks: BlockStore
  exclusive: ServiceComponents['exclusive']
  refs: Refs
  /** Ref moves, which background catch-ups follow. */
  events: EventBus
  /** Where failed background catch-ups are reported. */
  log: { warn: (obj: object, msg: string) => void }
}

/**
 * How long a query waits for its catch-up to get the write lock before it answers without it
 * (correctly, from the diff or a scan). A caller that itself holds the lock would otherwise wait
 * for ever.
 */
const LOCK_WAIT_MS = 2000
/** Queries that find the index being rewritten retry this many times before they scan. */
const ATTEMPTS = 3

/** The frame index of a node (one per node: catch-ups are shared by every query). */
export function createFrameIndexService ({ db, blocks, exclusive, refs, events, log }: FrameIndexComponents): FrameIndexService {
  const stop = new AbortController()
  const jobs = new Map<string, { started: Promise<void>, done: Promise<IndexUpdate> }>()

  const headTree = async (branch: string, options?: CallOptions): Promise<CID | null> => {
    const head = await refs.branchHead(branch)
    return head == null ? null : await refs.treeOfCommit(head, options)
  }

  /** Must run under `exclusive`: no ref move of the branch interleaves with the chunked writes. */
  const update = async (branch: string, options: CallOptions & { rebuild?: boolean } = {}): Promise<IndexUpdate> => {
    const signal = options.signal != null ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
    signal.throwIfAborted()
    return await updateIndex(db, blocks, branch, await headTree(branch, { signal }), { signal, rebuild: options.rebuild })
  }

  /** One catch-up per branch at a time, queued behind the writes in progress. */
  const scheduleCatchUp = (branch: string): { started: Promise<void>, done: Promise<IndexUpdate> } => {
    const running = jobs.get(branch)
    if (running != null) return running
    const { promise: started, resolve } = Promise.withResolvers<void>()
    const done = exclusive(async () => {
      resolve()
      return await update(branch)
    }).finally(() => { jobs.delete(branch) })
    done.catch(() => {})
    const job = { started, done }
    jobs.set(branch, job)
    return job
  }

  const readRecord = async (reader: BlockReader, cid: CID, options?: CallOptions): Promise<FrameRecord> => {
    const frame = decodeFrame(cid, await reader.get(cid, options))
    return { id: frame.id, cid, frame }
  }

  /** The branch whose index answers a query on `ref`, and the tree asked for. */
  const target = async (ref: string | undefined, options?: CallOptions): Promise<{ branch: string, tree: CID }> => {
    if (ref == null) {
      const branch = await refs.currentBranch()
      return { branch, tree: await refs.workingTree(branch) }
    }
    const resolved = await refs.resolveTree(ref, options)
    const { tree } = resolved
    if (await refs.branchHead(ref) != null) return { branch: ref, tree }
    const current = await refs.currentBranch()
    // The branch whose index is nearest: the one at this commit or tree (the gateway's cursors
    // name the tree of their first page, usually the current branch's working or committed tree).
    if (resolved.commit == null && (await refs.workingTree(current)).equals(tree)) return { branch: current, tree }
    for (const b of await refs.listBranches()) {
      if (resolved.commit != null ? b.commit.equals(resolved.commit) : (await headTree(b.name, options))?.equals(tree) === true) return { branch: b.name, tree }
    }
    return { branch: current, tree }
  }

  /** A tree in key order, filtered: the answer without the index. */
  async function * scan (reader: BlockReader, tree: CID, filter: FrameFilter, options: ListFramesOptions, start: string | undefined): AsyncGenerator<FrameRecord> {
    let count = 0
    for await (const entry of entries(reader, tree, { signal: options.signal, prefix: options.prefix, gte: start })) {
      const record = await readRecord(reader, entry.value, options)
      if (!matchesFilter(record.frame, filter)) continue
      yield record
      if (options.limit != null && ++count >= options.limit) return
    }
  }

  /** The changes from `from` to `to` within the requested range, in key order. */
  async function * rangeDiff (reader: BlockReader, from: CID, to: CID, options: ListFramesOptions, start: string | undefined): AsyncGenerator<TreeDiffEntry> {
    const { prefix } = options
    for await (const d of diffTrees(reader, from, to, options)) {
      if (start != null && compareKeys(d.key, start) < 0) continue
      if (prefix != null && !d.key.startsWith(prefix)) {
        if (compareKeys(d.key, prefix) < 0) continue
        return
      }
      yield d
    }
  }

  /**
   * The index of `branch` (describing tree `indexed`, read through `snapshot`) overlaid with the
   * diff from `indexed` to `tree`: ids from the index that the diff does not touch are answers as
   * they are; ids the diff touches are answered from the frame in `tree`.
   */
  async function * overlay (snapshot: AbstractSnapshot, branch: string, indexed: CID, tree: CID, filter: FrameFilter, options: ListFramesOptions, start: string | undefined): AsyncGenerator<FrameRecord> {
    const reader = dbReader(db, snapshot)
    const changes = rangeDiff(reader, indexed, tree, options, start)
    const candidates = indexCandidates(db, branch, filter, { snapshot, signal: options.signal, start, prefix: options.prefix, pageHint: options.limit })
    try {
      let count = 0
      const limit = options.limit ?? Number.POSITIVE_INFINITY
      if (limit <= 0) return
      let d = (await changes.next()).value ?? undefined
      let x = (await candidates.next()).value ?? undefined
      while (d !== undefined || x !== undefined) {
        let record: FrameRecord | undefined
        if (d !== undefined && (x === undefined || compareKeys(d.key, x) <= 0)) {
          if (x === d.key) x = (await candidates.next()).value ?? undefined
          if (d.after != null) {
            const r = await readRecord(reader, d.after, options).catch((err: unknown) => {
              if ((err as { code?: string }).code === 'ERR_FRAME_INVALID') return undefined
              throw err
            })
            if (r != null && matchesFilter(r.frame, filter)) record = r
          }
          d = (await changes.next()).value ?? undefined
        } else if (x !== undefined) {
          const cid = await indexedCid(db, branch, x, { snapshot })
          if (cid != null) {
            const r = await readRecord(reader, cid, options)
            // The index is derived data: a record that does not match is never returned.
            if (matchesFilter(r.frame, filter)) record = r
          }
          x = (await candidates.next()).value ?? undefined
        }
        if (record != null) {
          yield record
          if (++count >= limit) return
        }
      }
    } finally {
      await changes.return(undefined)
      await candidates.return(undefined)
    }
  }

  async function * list (options: ListFramesOptions = {}): AsyncGenerator<FrameRecord> {
    const filter = filterOf(options)
    const start = options.after != null ? options.after + '\u0000' : undefined
    if (options.limit != null && options.limit <= 0) return
    if (isEmptyFilter(filter)) {
      const { tree } = await refs.resolveTree(options.ref, options)
      yield * scan(blocks, tree, filter, options, start)
      return
    }
    const { branch, tree } = await target(options.ref, options)
    let wait = true
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const head = await headTree(branch, options)
      const indexed = await indexedTree(db, branch)
      if (wait && (indexed == null || !indexed.equals(head ?? EMPTY_TREE))) {
        // Behind or untrusted: catch up first, unless the lock cannot be had soon (then the
        // catch-up stays queued and this query answers without it).
        const job = scheduleCatchUp(branch)
        const timer = new AbortController()
        const got = await Promise.race([job.started.then(() => true), sleep(LOCK_WAIT_MS, false, { signal: timer.signal }).catch(() => false)])
        timer.abort()
        if (got) await job.done.catch(() => {})
        else wait = false
      }
      const snapshot = db.db.snapshot()
      try {
        const at = await indexedTree(db, branch, { snapshot })
        if (at == null) continue
        yield * overlay(snapshot, branch, at, tree, filter, options, start)
        return
      } finally {
        await snapshot.close()
      }
    }
    // The index kept being rewritten under us: answer from the tree.
    yield * scan(blocks, tree, filter, options, start)
  }

  /** Background catch-ups, one after another. */
  let indexing: Promise<unknown> = Promise.resolve()
  let unsubscribe: (() => void) | undefined
  const background = (work: string | (() => Promise<void>)): void => {
    indexing = indexing.then(async () => {
      if (stop.signal.aborted) return
      if (typeof work === 'string') await service.catchUp(work)
      else await work()
    }).catch((err: unknown) => {
      if (!stop.signal.aborted) log.warn({ err, branch: typeof work === 'string' ? work : undefined }, 'frame index catch-up failed; queries fall back to the tree')
    })
  }

  const service: FrameIndexService = {
    list,

    catchUp: async (branch, options) => await exclusive(async () => await update(branch, options)),

    rebuild: async (branch, options) => await exclusive(async () => {
      if (branch != null) {
        if (await refs.branchHead(branch) == null && !(await indexedBranches(db)).includes(branch)) {
          throw new RefNotFoundError(`no branch "${branch}" (and no index data under that name)`, { ref: branch })
        }
        const progress = (done: number): void => { options?.onProgress?.({ type: 'index:rebuild:progress', detail: { branch, done, total: 1 } }) }
        progress(0)
        const updated = await update(branch, { signal: options?.signal, rebuild: true })
        progress(1)
        return [updated]
      }
      const out: IndexUpdate[] = []
      const names = new Set((await refs.listBranches()).map(b => b.name))
      let total = names.size
      const progress = (name: string): void => { options?.onProgress?.({ type: 'index:rebuild:progress', detail: { branch: name, done: out.length, total } }) }
      for (const name of names) {
        progress(name)
        out.push(await update(name, { signal: options?.signal, rebuild: true }))
      }
      // Leftovers of branches deleted while their index data was being cleared.
      const leftovers = (await indexedBranches(db)).filter(name => !names.has(name))
      total += leftovers.length
      for (const name of leftovers) {
        progress(name)
        out.push(await update(name, { signal: options?.signal }))
      }
      if (out.length > 0) progress(out[out.length - 1]?.branch as string)
      return out
    }),

    status: async () => {
      const names = new Set([...(await refs.listBranches()).map(b => b.name), ...await indexedBranches(db)])
      const out: IndexStatus[] = []
      for (const branch of [...names].sort()) {
        const head = await headTree(branch)
        const indexed = await indexedTree(db, branch)
        out.push({ branch, head, indexed, current: indexed != null && indexed.equals(head ?? EMPTY_TREE) })
      }
      return out
    },

    start: () => {
      if (unsubscribe != null || stop.signal.aborted) return
      unsubscribe = events.subscribe((e) => {
        if (e.type !== 'ref:move') return
        const move = e.detail as NodeEvents['ref:move']
        if (move.to != null) background(move.ref)
      })
      background(async () => { for (const s of await service.status()) if (!s.current) background(s.branch) })
    },

    close: async () => {
      unsubscribe?.()
      stop.abort(new Error('the node is closing'))
      await Promise.all([...jobs.values()].map(async j => { await j.done.catch(() => {}) }))
      await indexing
    }
  }
  return service
}
