import type { CID } from 'multiformats/cid'
import type { Network } from '../network/index.ts'
import { SyncProtocolError } from '../core/errors.ts'
import { dropFetched } from '../storage/fetched.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'
import type { SnapshotService } from './snapshots.ts'

export interface SyncProgress {
  peer: string
  want: string
  blocks: number
  bytes: number
}

export interface SyncResult {
  want: CID
  /** The peer that answered ('' when nothing was missing). */
  peer: string
  /** Blocks received and bytes of block data. */
  blocks: number
  bytes: number
  ms: number
}

export interface SyncOptions extends CallOptions, ProgressOptions<SyncProgress> {
  /** Ask these peers only (peer ids). */
  from?: string[]
  /** Heads this node holds of the same DAG: the answer leaves out what they reach. */
  have?: CID[]
}

export type Sync = (want: CID, options?: SyncOptions) => Promise<SyncResult>

/** Faults of a CAR import that come from what the answering peer sent. */
const PEER_FAULTS = new Set(['ERR_BLOCK_CORRUPT', 'ERR_BLOCK_INVALID', 'ERR_CAR_INVALID', 'ERR_DAG_INCOMPLETE'])

/** At most this many haves go with a sync request. */
const MAX_HAVES = 256

/** What the sync uses. */
export type SyncComponents = Pick<ServiceComponents, 'blocks' | 'db' | 'events'>

/**
 * Fetches what this node lacks of `want` with framehub sync (one CAR of the missing blocks from
 * one peer), or with bitswap when no peer speaks it, and imports it: every block checked, nothing
 * visible until the DAG is complete (`snapshots.importCar`).
 */
export function createSync ({ blocks, db, events }: SyncComponents, snapshots: SnapshotService, network: Network, options: { maxSyncBytes?: number, syncIdleMs?: number, log: { info: (obj: object, msg: string) => void } }): Sync {
  const log = options.log
  const maxBytes = options.maxSyncBytes ?? 4 * 1024 ** 3
  return async (want, opts = {}) => {
    const started = performance.now()
    if (await blocks.has(want)) return { want, peer: '', blocks: 0, bytes: 0, ms: 0 }
    let answer: { peer: string, car: AsyncIterable<Uint8Array> }
    try {
      answer = await network.fetch(want, (opts.have ?? []).slice(0, MAX_HAVES), { signal: opts.signal, from: opts.from, idleMs: options.syncIdleMs })
    } catch (err) {
      // No peer speaks framehub sync (stock IPFS peers): fall back to bitswap, block by block.
      if ((err as { code?: string }).code !== 'ERR_PEER_UNREACHABLE') throw err
      log.info({ want: want.toString(), err: (err as Error).message }, 'no peer answers framehub sync; fetching with bitswap')
      answer = { peer: 'bitswap', car: network.bitswapCar(want, { signal: opts.signal }) }
    }
    const { peer, car } = answer
    let stats: Awaited<ReturnType<SnapshotService['importCar']>>
    try {
      stats = await snapshots.importCar(car, {
        signal: opts.signal,
        maxBytes,
        root: want,
        // Only what this node lacks: stored blocks have complete closures (a bitswap walk's fetched
        // blocks are kept apart until this import makes them visible).
        partial: true,
        onProgress: (e) => {
          const d = e.detail as { blocks: number, bytes: number }
          const detail = { peer, want: want.toString(), blocks: d.blocks, bytes: d.bytes }
          opts.onProgress?.({ type: 'sync:progress', detail })
          if (e.type.endsWith(':progress')) events.publish('sync:progress', detail)
        }
      })
    } catch (err) {
      // What the peer sent is wrong (a forged or corrupt block, a broken CAR, a DAG with holes):
      // the peer's fault, not this node's (a gateway answers 502, not 500). Nothing of it is visible.
      const code = (err as { code?: string }).code
      if (code === undefined || !PEER_FAULTS.has(code)) throw err
      throw new SyncProtocolError(`${peer === 'bitswap' ? 'the bitswap answer' : `peer ${peer}`} for ${want} is refused: ${(err as Error).message}`, { peer, reason: code })
    }
    // The fetched copies of what is now stored are not needed any more.
    if (peer === 'bitswap') await dropFetched(db)
    const result = { want, peer, blocks: stats.blocks, bytes: stats.bytes, ms: performance.now() - started }
    events.publish('sync:done', { want: want.toString(), peer, blocks: stats.blocks, bytes: stats.bytes, ms: Math.round(result.ms) })
    return result
  }
}
