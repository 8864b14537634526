import { CID } from 'multiformats/cid'
import type { SnapshotService, SnapshotStats } from '../services/snapshots.ts'
import type { ApiClient } from './api.ts'
import type * as Wire from '../core/api-types.ts'

/** How often an export reports progress, in blocks (as in-process). */
const PROGRESS_BLOCKS = 4096

/**
 * Counts the blocks of a CAR v1 stream as it passes: each section is a varint length and that many
 * bytes; the first section is the header. Only lengths are read, nothing is decoded or buffered.
 */
function carSectionCounter (): (chunk: Uint8Array) => number {
  let sections = 0
  let length = 0
  let shift = 0
  let skip = 0
  return (chunk) => {
    let i = 0
    while (i < chunk.byteLength) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.byteLength - i)
        skip -= n
        i += n
        continue
      }
      const byte = chunk[i++] as number
      length += (byte & 0x7f) * 2 ** shift
      shift += 7
      if ((byte & 0x80) === 0) {
        sections++
        skip = length
        length = 0
        shift = 0
      }
    }
    return Math.max(0, sections - 1)
  }
}

/** SnapshotService over the daemon's `/api/v1/snapshots` (CAR streams both ways) and `/resolve`. */
export function remoteSnapshots (api: ApiClient): SnapshotService {
  return {
    resolveRoot: async (spec, options) => {
      const r = await api.json<Required<Pick<Wire.ResolvedRef, 'root'>>>('/resolve', { query: { ref: spec, as: 'root' }, signal: options?.signal })
      return CID.parse(r.root)
    },

    exportCar (root, options) {
      const stats: SnapshotStats = { root, blocks: 0, bytes: 0 }
      const count = carSectionCounter()
      const car = (async function * () {
        const res = await api.request(`/snapshots/${root.toString()}`, { signal: options?.signal })
        if (res.body == null) return
        let reported = 0
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          stats.bytes += chunk.byteLength
          stats.blocks = count(chunk)
          if (stats.blocks - reported >= PROGRESS_BLOCKS) {
            reported = stats.blocks
            options?.onProgress?.({ type: 'snapshot:export:progress', detail: { blocks: stats.blocks, bytes: stats.bytes } })
          }
          yield chunk
        }
      })()
      return { car, stats }
    },

    // `maxBytes` is the in-process limit; through the daemon its own CAR import limit applies.
    // The daemon treats every upload as a client's input (`clientInput`).
    importCar: async (car, options) => {
      const r = await api.json<Wire.SnapshotStats>('/snapshots', {
        method: 'POST',
        query: options?.branch != null ? { branch: options.branch } : undefined,
        body: car,
        contentType: 'application/vnd.ipld.car',
        signal: options?.signal
      })
      options?.onProgress?.({ type: 'snapshot:import:done', detail: { blocks: r.blocks, bytes: r.bytes } })
      return { root: CID.parse(r.root), blocks: r.blocks, bytes: r.bytes, ...(r.branch != null ? { branch: r.branch } : {}) }
    }
  }
}
