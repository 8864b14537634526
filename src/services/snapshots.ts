import type { CarBlockIterator } from '@ipld/car'
import { carStream, readCar } from '../core/car.ts'
import type { CarContents } from '../core/car.ts'
import type { Block } from '../core/block.ts'
import type { CID } from 'multiformats/cid'
import { walkClosure } from '../core/closure.ts'
import { linksOf, MAX_BLOCK_BYTES, verifyBlock } from '../core/block.ts'
import { dependenciesFirst } from '../core/order.ts'
import { decodeCommit } from '../core/commit.ts'
import { BlockNotFoundError, CarInvalidError, DagIncompleteError, isFramehubError, PayloadTooLargeError, RefExistsError, UsageError } from '../core/errors.ts'
import { checkBranchName } from '../core/ref-spec.ts'
import { blockKey } from '../storage/level-db.ts'
import { promotePending } from '../storage/pending.ts'
import { keys } from '../storage/state.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'
import type { Refs } from './refs.ts'

export interface SnapshotStats {
  root: CID
  blocks: number
  /** Bytes of the CAR (export) or of block data (import). */
  bytes: number
  /** The branch an import created at its root (`ImportSnapshotOptions.branch`). */
  branch?: string
}

export interface SnapshotProgress {
  blocks: number
  bytes: number
}

export interface ImportSnapshotOptions extends CallOptions, ProgressOptions<SnapshotProgress> {
  /** Refuse a CAR with more block data than this (bytes). Default: unlimited. */
  maxBytes?: number
  /** Refuse a CAR whose root is not this one. */
  root?: CID
  /**
   * The CAR holds only what this repository lacks (a sync answer): the completeness check stops
   * at blocks already stored, whose closures the repository keeps complete, so it costs
   * O(blocks received), not O(DAG).
   */
  partial?: boolean
  /** Staged blocks are kept in memory up to this many bytes, then in LevelDB (default 256 MiB). */
  stagingMemoryBytes?: number
  /**
   * The CAR is a client's upload (`snapshot import`, `POST /api/v1/snapshots`): a block whose
   * bytes do not match its CID is the client's fault, `ERR_CAR_INVALID` (HTTP 400, exit 4) naming
   * the block. Otherwise (a sync answer) it is `ERR_BLOCK_CORRUPT`. Either way a block of this
   * repository that fails its check while the DAG is walked stays `ERR_BLOCK_CORRUPT` (a 500).
   */
  clientInput?: boolean
  /**
   * A new branch to create at the imported root, which must then be a commit. Checked before
   * anything is read: a bad name is `ERR_REF_INVALID`, an existing branch `ERR_REF_EXISTS` (as for
   * `branch NAME`); a root that is not a commit is `ERR_USAGE`, before anything becomes visible.
   */
  branch?: string
}

export interface SnapshotService {
  /** Resolves a CID or ref to the root that `exportCar` would write. */
  resolveRoot (spec: string, options?: CallOptions): Promise<CID>
  /**
   * The CAR v1 of everything reachable from `root`, streamed in deterministic DFS order.
   * `stats` is filled in as the stream is read.
   */
  exportCar (root: CID, options?: CallOptions & ProgressOptions<SnapshotProgress>): { car: AsyncIterable<Uint8Array>, stats: SnapshotStats }
  /**
   * Reads a CAR stream: every block's hash is checked on arrival, and nothing is stored where reads
   * can see it until the DAG under the root is complete. Returns the root and counts.
   */
  importCar (car: AsyncIterable<Uint8Array>, options?: ImportSnapshotOptions): Promise<SnapshotStats>
}

const BATCH = 4096

/** What the snapshot service uses. */
export type SnapshotComponents = Pick<ServiceComponents, 'blocks' | 'db' | 'exclusive' | 'events'>

export function createSnapshotService ({ blocks, db, exclusive, events }: SnapshotComponents, refs: Refs): SnapshotService {
  return {
    resolveRoot: async (spec, options) => {
      const cid = await refs.resolveCid(spec, options)
      if (!await blocks.has(cid)) throw new BlockNotFoundError(`block ${cid} is not in this repository`, { cid: cid.toString() })
      return cid
    },

    exportCar (root, options) {
      const stats: SnapshotStats = { root, blocks: 0, bytes: 0 }
      const counted = (async function * () {
        for await (const block of walkClosure(blocks, root, options)) {
          yield block
          stats.blocks++
          if (stats.blocks % BATCH === 0) options?.onProgress?.({ type: 'snapshot:export:progress', detail: { blocks: stats.blocks, bytes: stats.bytes } })
        }
      })()
      const car = (async function * () {
        for await (const chunk of carStream(root, counted)) {
          stats.bytes += chunk.byteLength
          yield chunk
        }
      })()
      return { car, stats }
    },

    importCar: async (car, options) => {
      const branch = options?.branch
      if (branch != null) {
        checkBranchName(branch)
        if (await refs.branchHead(branch) != null) throw new RefExistsError(`branch "${branch}" already exists: import without a branch, or name a new one`, { ref: branch })
      }
      const stats = await importDag(car, options)
      if (branch == null) return stats
      // After the import's turn (creating a branch takes its own).
      await refs.createBranch(branch, stats.root.toString())
      return { ...stats, branch }
    }
  }

  /**
   * The write lock, taken when the import first needs it and held until it ends: reading the CAR
   * and staging its blocks in memory need no lock (nothing shared is touched), so a sync answer
   * or an upload that arrives slowly does not hold up the node's other writes, and several
   * peers' answers are read at once. The lock is taken before the first write to storage: the
   * completeness check (it reads stored blocks, which GC could remove) and the copy, or a staging
   * that grows past UNLOCKED_STAGING_BYTES (so that concurrent imports hold at most that much
   * each in memory, and one that spills to the shared `pending` sublevel is alone).
   */
  function lazyLock (): { take: () => Promise<void>, release: () => Promise<void> } {
    let held: Promise<unknown> | undefined
    let free: (() => void) | undefined
    return {
      take: async () => {
        if (held != null) return
        await new Promise<void>((resolve, reject) => {
          held = exclusive(async () => {
            await new Promise<void>((_resolve) => { free = _resolve; resolve() })
          })
          // The lock's turn can fail before it starts (the journal's flush): the import fails then.
          held.catch(reject)
        })
      },
      release: async () => {
        free?.()
        // A failure of the lock's turn was thrown by `take` already.
        await held?.catch(() => {})
      }
    }
  }

  async function importDag (car: AsyncIterable<Uint8Array>, options: ImportSnapshotOptions | undefined): Promise<SnapshotStats> {
    const lock = lazyLock()
    try {
      return await importUnder(lock.take, car, options)
    } finally {
      await lock.release()
    }
  }

  async function importUnder (lock: () => Promise<void>, car: AsyncIterable<Uint8Array>, options: ImportSnapshotOptions | undefined): Promise<SnapshotStats> {
    let car1: Extract<CarContents, { version: 1 }> | undefined
    let car2: CarBlockIterator | undefined
    try {
      const contents = await readCar(car)
      if (contents.version === 1) car1 = contents
      else car2 = await (await import('@ipld/car')).CarBlockIterator.fromIterable(contents.replay) // CAR v2 only: loaded when one comes
    } catch (err) {
      // The source's own errors (a sync stream that broke off) pass through as they are.
      if (isFramehubError(err)) throw err
      throw new CarInvalidError(`not a CAR file: ${(err as Error).message}`)
    }
    const roots = car1?.roots ?? await (car2 as CarBlockIterator).getRoots()
    const root = roots[0]
    if (root == null || roots.length !== 1) throw new CarInvalidError(`a snapshot CAR must have exactly one root (this one has ${roots.length})`)
    if (options?.root != null && !options.root.equals(root)) throw new CarInvalidError(`the CAR's root is ${root}, not the ${options.root} asked for`)
    const memoryBytes = options?.stagingMemoryBytes ?? MEMORY_STAGING_BYTES
    const unlockedBytes = Math.min(UNLOCKED_STAGING_BYTES, memoryBytes)
    const staging = createStaging(db, memoryBytes)
    try {
      // 1. Stage every block, hash-checked, where no read can see it.
      let staged = 0
      let bytes = 0
      const rootKey = blockKey(root)
      /** The CID the CAR gives the root's block in its section (the same bytes by digest). */
      let rootSection = undefined as CID | undefined
      try {
        for await (const batch of car1?.batches ?? oneByOne(car2 as CarBlockIterator)) {
          options?.signal?.throwIfAborted()
          for (const block of batch) {
            // A block over the limit could be stored but never synced on: refused like a frame over it.
            if (block.bytes.byteLength > MAX_BLOCK_BYTES) throw new PayloadTooLargeError(`block ${staged + 1} of the CAR (${block.cid}) is ${block.bytes.byteLength} bytes, over the block limit of ${MAX_BLOCK_BYTES} bytes`, { cid: block.cid.toString(), block: staged + 1, bytes: block.bytes.byteLength, limit: MAX_BLOCK_BYTES })
            if (options?.clientInput === true) verifyInput(block, staged)
            else verifyBlock(block.cid, block.bytes)
            bytes += block.bytes.byteLength
            if (options?.maxBytes != null && bytes > options.maxBytes) throw new CarInvalidError(`CAR holds more than the limit of ${options.maxBytes} bytes`)
            // Links are read now, while the next bytes are on their way, not after the last one.
            const key = blockKey(block.cid)
            if (key === rootKey) rootSection ??= block.cid
            // Past what an import may stage unlocked (or before it could spill): the lock first.
            if (staging.bytes + block.bytes.byteLength > unlockedBytes) await lock()
            const spilling = staging.put(key, block.bytes, staging.inMemory ? linksIfReadable(block.cid, block.bytes) : undefined)
            if (spilling != null) await spilling
            staged++
            if (staged % BATCH === 0) options?.onProgress?.({ type: 'snapshot:import:progress', detail: { blocks: staged, bytes } })
          }
        }
      } catch (err) {
        if (isFramehubError(err)) throw err
        throw new CarInvalidError(`CAR is malformed after ${staged} blocks: ${(err as Error).message}`)
      }
      await lock()
      await staging.flush()
      // The header's root must name its block as the CAR does (same codec): the same digest
      // under another codec is another CID, whose links were never read.
      const rootText = root.toString()
      if (rootSection !== undefined && rootSection.toString() !== rootText) {
        throw new CarInvalidError(`the CAR's root ${rootText} is not the CID of its block (${rootSection.toString()}): the header and the block disagree`, { cid: rootText })
      }

      // 2. The DAG under the root must be complete (staged or already stored) before it becomes
      //    visible. Staged blocks are followed at once (a lookup in memory, or one LevelDB call
      //    per batch once spilled); blocks not staged are looked up in the store in batches.
      const toCopy: string[] = []
      const seen = new Set<string>([rootKey])
      const queue: Array<{ cid: CID, key: string }> = [{ cid: root, key: rootKey }]
      const outside: CID[] = []
      let count = 0
      /** The children of each staged block (keys), to copy children before parents: kept only
       *  while blocks are in memory (a spilled import is copied under a marker instead). */
      const childrenOf = new Map<string, string[]>()
      const follow = (cid: CID, data: Uint8Array, links: CID[] | undefined, parent?: string): void => {
        const children: string[] = []
        for (const link of links ?? linksOf(cid, data)) {
          const key = blockKey(link)
          children.push(key)
          if (!seen.has(key)) { seen.add(key); queue.push({ cid: link, key }) }
        }
        if (parent != null && staging.inMemory) childrenOf.set(parent, children)
      }
      while (queue.length > 0 || outside.length > 0) {
        options?.signal?.throwIfAborted()
        while (queue.length > 0) {
          const slice = queue.splice(0, BATCH)
          const got = staging.getMany(slice.map(q => q.key))
          const staged = Array.isArray(got) ? got : await got
          for (let j = 0; j < slice.length; j++) {
            const data = staged[j]
            const { cid, key } = slice[j] as { cid: CID, key: string }
            if (data === undefined) { outside.push(cid); continue }
            toCopy.push(key) // hash checked on arrival
            count++
            follow(cid, data, staging.links(key), key)
          }
        }
        const slice = outside.splice(0, BATCH)
        if (slice.length === 0) continue
        const stored = await blocks.getMany(slice)
        for (let j = 0; j < slice.length; j++) {
          const cid = slice[j] as CID
          const data = stored[j]
          if (data === undefined) throw new DagIncompleteError(`snapshot is incomplete: block ${cid} is missing`, { cid: cid.toString() })
          count++
          // A stored block's closure is complete unless the CAR is not a partial answer.
          if (options?.partial !== true) follow(cid, data, undefined)
        }
      }

      // A branch is put only on a commit: checked before anything is visible.
      if (options?.branch != null) {
        const [bytes] = await staging.getMany([rootKey])
        try {
          decodeCommit(root, bytes ?? await blocks.get(root))
        } catch (err) {
          if (!isFramehubError(err) || !['ERR_COMMIT_INVALID', 'ERR_BLOCK_INVALID'].includes(err.code)) throw err
          throw new UsageError(`a branch can only point at a commit, and the CAR's root ${root} is not one (${err.message}); import it without a branch`, { cid: root.toString() })
        }
      }

      // 3. Make it visible. From memory, blocks are written children before parents, in
      //    batches: whenever the process dies, every block already written has its closure
      //    written too (the root comes last). Past MEMORY_STAGING_BYTES, `pending` keeps only
      //    the blocks to copy, a marker is set, and the next open finishes a copy cut short.
      await staging.promote(staging.inMemory ? childrenFirst(rootKey, childrenOf, new Set(toCopy)) : toCopy)
      options?.onProgress?.({ type: 'snapshot:import:done', detail: { blocks: count, bytes } })
      events.publish('snapshot:import', { root: root.toString(), blocks: count, bytes })
      return { root, blocks: count, bytes }
    } finally {
      await staging.clear()
    }
  }
}

/** Checks a client's block: a mismatch is its input's fault (ERR_CAR_INVALID), not this repository's. */
function verifyInput (block: Block, index: number): void {
  try {
    verifyBlock(block.cid, block.bytes)
  } catch (err) {
    if (!isFramehubError(err) || err.code !== 'ERR_BLOCK_CORRUPT') throw err
    throw new CarInvalidError(`block ${index + 1} of the CAR (${block.cid}) does not match its CID (corrupt or forged)`, { cid: block.cid.toString(), block: index + 1, reason: 'hash mismatch' })
  }
}

/** The keys of `copy` reachable from `root` (through `childrenOf`), every block after its children. */
export function childrenFirst (root: string, childrenOf: Map<string, string[]>, copy: Set<string>): string[] {
  return dependenciesFirst([root], key => (childrenOf.get(key) ?? []).filter(child => copy.has(child))).filter(key => copy.has(key))
}

/** A CAR v2's blocks (read by @ipld/car), one per batch. */
async function * oneByOne (reader: CarBlockIterator): AsyncGenerator<Block[]> {
  for await (const block of reader) yield [block]
}

/** The links of a block, or undefined if it does not decode (the check reports it if the block is in the DAG). */
function linksIfReadable (cid: CID, bytes: Uint8Array): CID[] | undefined {
  try {
    return linksOf(cid, bytes)
  } catch {
    return undefined
  }
}

/** An import stages this many bytes before it takes the write lock (see `lazyLock`). */
const UNLOCKED_STAGING_BYTES = 32 * 1024 * 1024

/** Staged blocks kept in memory up to this many bytes; past it they spill into the `pending` sublevel. */
const MEMORY_STAGING_BYTES = 256 * 1024 * 1024

/**
 * Where an import keeps blocks until the DAG is complete: in memory while it is small enough
 * (a sync answer usually is: no LevelDB round trips to stage, check and copy), in the `pending`
 * sublevel past MEMORY_STAGING_BYTES. Neither is visible to reads.
 */
function createStaging (db: ServiceComponents['db'], memoryLimit: number): {
  /** True while blocks are kept in memory (and their links with them). */
  readonly inMemory: boolean
  /** Bytes staged so far. */
  readonly bytes: number
  /** Stages a block; returns a promise only when it has to wait for LevelDB. */
  put: (key: string, bytes: Uint8Array, links?: CID[]) => Promise<void> | undefined
  flush: () => Promise<void>
  /** Staged blocks by key (`undefined` where not staged): at once while in memory. */
  getMany: (keys: string[]) => Array<Uint8Array | undefined> | Promise<Array<Uint8Array | undefined>>
  /** The links given to `put`, while blocks are in memory. */
  links: (key: string) => CID[] | undefined
  /** Makes the staged blocks named by `keys` visible (and drops the others). */
  promote: (chosen: string[]) => Promise<void>
  clear: () => Promise<void>
} {
  let memory: Map<string, { bytes: Uint8Array, links?: CID[] }> | undefined = new Map()
  let staged = 0
  let promoting = false
  let ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
  const spill = async (): Promise<void> => {
    const batch = ops
    ops = []
    if (batch.length > 0) await db.pending.batch(batch)
  }
  return {
    get inMemory () { return memory != null },
    get bytes () { return staged },
    put (key, bytes, links) {
      staged += bytes.byteLength
      if (memory != null) {
        memory.set(key, { bytes, links })
        if (staged <= memoryLimit) return
        // Too big for memory: everything so far goes to LevelDB, and so does the rest.
        for (const [k, v] of memory) ops.push({ type: 'put', key: k, value: v.bytes })
        memory = undefined
      } else {
        ops.push({ type: 'put', key, value: bytes })
      }
      return ops.length >= BATCH ? spill() : undefined
    },
    flush: spill,
    getMany: (keys) => memory != null ? keys.map(k => memory?.get(k)?.bytes) : db.pending.getMany(keys),
    links: (key) => memory?.get(key)?.links,
    async promote (chosen) {
      if (memory != null) {
        const staged = memory
        // In order, one batch at a time; the next batch is prepared while one is being written.
        let writing: Promise<void> = Promise.resolve()
        for (let i = 0; i < chosen.length; i += BATCH) {
          const ops = chosen.slice(i, i + BATCH).map(key => ({ type: 'put' as const, key, value: (staged.get(key) as { bytes: Uint8Array }).bytes }))
          await writing
          writing = db.blocks.batch(ops)
        }
        await writing
        return
      }
      const wanted = new Set(chosen)
      const junk: string[] = []
      for await (const key of db.pending.keys()) if (!wanted.has(key)) junk.push(key)
      for (let i = 0; i < junk.length; i += BATCH) await db.pending.batch(junk.slice(i, i + BATCH).map(key => ({ type: 'del' as const, key })))
      promoting = true
      await db.state.put(keys.importPromoting, new Uint8Array([1]))
      await promotePending(db)
      promoting = false
    },
    async clear () {
      const spilled = memory == null
      memory = undefined
      ops = []
      // Only an import that spilled (under the write lock) touched the shared pending sublevel. A
      // promotion that failed half-way is finished at the next open, from what is pending.
      if (spilled && !promoting) await db.pending.clear()
    }
  }
}
