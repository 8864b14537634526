import { CarBlockIterator } from '@ipld/car'
import { carStream } from '../core/car.ts'
import type { CID } from 'multiformats/cid'
import { walkClosure } from '../core/closure.ts'
import { linksOf, verifyBlock } from '../core/codec.ts'
import { BlockNotFoundError, CarInvalidError, DagIncompleteError, isFramehubError } from '../core/errors.ts'
import { blockKey } from '../storage/level-db.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'
import type { RefService } from './refs.ts'

export interface SnapshotStats {
  root: CID
  blocks: number
  /** Bytes of the CAR (export) or of block data (import). */
  bytes: number
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

export function createSnapshotService ({ repo, exclusive, events }: ServiceComponents, refs: RefService): SnapshotService {
  const { db, blocks } = repo

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

    importCar: async (car, options) => await exclusive(async () => {
      let reader: CarBlockIterator
      try {
        reader = await CarBlockIterator.fromIterable(car)
      } catch (err) {
        // The source's own errors (a sync stream that broke off) pass through as they are.
        if (isFramehubError(err)) throw err
        throw new CarInvalidError(`not a CAR file: ${(err as Error).message}`)
      }
      const roots = await reader.getRoots()
      const root = roots[0]
      if (root == null || roots.length !== 1) throw new CarInvalidError(`a snapshot CAR must have exactly one root (this one has ${roots.length})`)
      if (options?.root != null && !options.root.equals(root)) throw new CarInvalidError(`the CAR's root is ${root}, not the ${options.root} asked for`)
      const staging = createStaging(db)
      try {
        // 1. Stage every block, hash-checked, where no read can see it.
        let staged = 0
        let bytes = 0
        try {
          for await (const block of reader) {
            options?.signal?.throwIfAborted()
            verifyBlock(block.cid, block.bytes)
            bytes += block.bytes.byteLength
            if (options?.maxBytes != null && bytes > options.maxBytes) throw new CarInvalidError(`CAR holds more than the limit of ${options.maxBytes} bytes`)
            // Links are read now, while the next bytes are on their way, not after the last one.
            await staging.put(blockKey(block.cid), block.bytes, staging.inMemory ? linksIfReadable(block.cid, block.bytes) : undefined)
            staged++
            if (staged % BATCH === 0) options?.onProgress?.({ type: 'snapshot:import:progress', detail: { blocks: staged, bytes } })
          }
        } catch (err) {
          if (isFramehubError(err)) throw err
          throw new CarInvalidError(`CAR is malformed after ${staged} blocks: ${(err as Error).message}`)
        }
        await staging.flush()

        // 2. The DAG under the root must be complete (staged or already stored) before it becomes
        //    visible. Walked breadth-first, one LevelDB call per level of the DAG and batch.
        const toCopy: string[] = []
        const seen = new Set<string>([blockKey(root)])
        let frontier: CID[] = [root]
        let count = 0
        while (frontier.length > 0) {
          options?.signal?.throwIfAborted()
          const next: CID[] = []
          for (let i = 0; i < frontier.length; i += BATCH) {
            const slice = frontier.slice(i, i + BATCH)
            const keys = slice.map(blockKey)
            const staged = await staging.getMany(keys)
            const stored = staged.some(v => v === undefined) ? await blocks.getMany(slice) : []
            for (let j = 0; j < slice.length; j++) {
              const cid = slice[j] as CID
              const key = keys[j] as string
              let data = staged[j]
              if (data !== undefined) toCopy.push(key) // hash checked on arrival
              else data = stored[j]
              if (data === undefined) throw new DagIncompleteError(`snapshot is incomplete: block ${cid} is missing`, { cid: cid.toString() })
              count++
              if (options?.partial === true && staged[j] === undefined) continue
              for (const link of (staged[j] !== undefined ? staging.links(key) : undefined) ?? linksOf(cid, data)) {
                const k = blockKey(link)
                if (!seen.has(k)) { seen.add(k); next.push(link) }
              }
            }
          }
          frontier = next
        }

        // 3. Make it visible.
        for (let i = 0; i < toCopy.length; i += BATCH) {
          const slice = toCopy.slice(i, i + BATCH)
          const values = await staging.getMany(slice)
          await db.blocks.batch(slice.map((key, j) => ({ type: 'put' as const, key, value: values[j] as Uint8Array })))
        }
        options?.onProgress?.({ type: 'snapshot:import:done', detail: { blocks: count, bytes } })
        events.publish('snapshot:import', { root: root.toString(), blocks: count, bytes })
        return { root, blocks: count, bytes }
      } finally {
        await staging.clear()
      }
    })
  }
}

/** The links of a block, or undefined if it does not decode (the check reports it if the block is in the DAG). */
function linksIfReadable (cid: CID, bytes: Uint8Array): CID[] | undefined {
  try {
    return linksOf(cid, bytes)
  } catch {
    return undefined
  }
}

/** Staged blocks kept in memory up to this many bytes; past it they spill into the `pending` sublevel. */
const MEMORY_STAGING_BYTES = 256 * 1024 * 1024

/**
 * Where an import keeps blocks until the DAG is complete: in memory while it is small enough
 * (a sync answer usually is: no LevelDB round trips to stage, check and copy), in the `pending`
 * sublevel past MEMORY_STAGING_BYTES. Neither is visible to reads.
 */
function createStaging (db: ServiceComponents['repo']['db']): {
  /** True while blocks are kept in memory (and their links with them). */
  readonly inMemory: boolean
  put: (key: string, bytes: Uint8Array, links?: CID[]) => Promise<void>
  flush: () => Promise<void>
  getMany: (keys: string[]) => Promise<Array<Uint8Array | undefined>>
  /** The links given to `put`, while blocks are in memory. */
  links: (key: string) => CID[] | undefined
  clear: () => Promise<void>
} {
  let memory: Map<string, { bytes: Uint8Array, links?: CID[] }> | undefined = new Map()
  let memoryBytes = 0
  let ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
  const spill = async (): Promise<void> => {
    if (ops.length > 0) await db.pending.batch(ops)
    ops = []
  }
  return {
    get inMemory () { return memory != null },
    async put (key, bytes, links) {
      if (memory != null) {
        memory.set(key, { bytes, links })
        memoryBytes += bytes.byteLength
        if (memoryBytes <= MEMORY_STAGING_BYTES) return
        // Too big for memory: everything so far goes to LevelDB, and so does the rest.
        for (const [k, v] of memory) ops.push({ type: 'put', key: k, value: v.bytes })
        memory = undefined
      } else {
        ops.push({ type: 'put', key, value: bytes })
      }
      if (ops.length >= BATCH) await spill()
    },
    flush: spill,
    getMany: async (keys) => memory != null ? keys.map(k => memory?.get(k)?.bytes) : await db.pending.getMany(keys),
    links: (key) => memory?.get(key)?.links,
    async clear () {
      memory = undefined
      ops = []
      await db.pending.clear()
    }
  }
}
