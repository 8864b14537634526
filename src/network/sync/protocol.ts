import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { SyncProtocolError } from '../../core/errors.ts'
import type { Code } from '../../core/errors.ts'

/**
 * framehub sync, one round trip per DAG (like a Git fetch with the haves sent up front).
 *
 * The asker opens a stream and writes one length-prefixed DAG-CBOR request
 * `{ v: 1, want: CID, have: [CID] }` (at most MAX_HAVES haves). The answerer writes
 * length-prefixed frames, each starting with a type byte:
 * - `0x01` + bytes: the next piece of a CAR v1 whose root is `want` and which holds exactly the
 *   blocks under `want` that the asker lacks (given its haves), `want` first;
 * - `0x02` + DAG-CBOR `{ blocks, bytes }`: the CAR is complete;
 * - `0x03` + DAG-CBOR `{ code, message }`: the answer failed (e.g. `ERR_BLOCK_NOT_FOUND`).
 * Everything arriving is checked by the asker: every block's hash, and that the DAG under `want`
 * is complete before anything becomes visible.
 *
 * Sizes: no frame is longer than MAX_FRAME_BYTES (4 MiB): the CAR is cut into pieces that fit,
 * whatever the blocks in it. Blocks themselves are at most MAX_BLOCK_BYTES (1 MiB, the limit
 * framehub writes with); a block over it (written by an older framehub) is not sent: the answer
 * fails with `ERR_PAYLOAD_TOO_LARGE`, which the asker does not retry.
 */
export const SYNC_PROTOCOL = '/framehub/sync/1.0.0'

export const MAX_HAVES = 1024
/** Largest request (haves included): 1024 CIDs of ~40 bytes fit. */
export const MAX_REQUEST_BYTES = 64 * 1024
/** Largest frame an answer may use (type byte included); every side reads frames up to this. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Largest CAR piece in one frame. */
export const MAX_CAR_PIECE = MAX_FRAME_BYTES - 1
/** The code of an answer refused because a block is over MAX_BLOCK_BYTES: final, not retried. */
export const TOO_LARGE = 'ERR_PAYLOAD_TOO_LARGE' satisfies Code
/** A stream with no data for this long is given up. */
export const IDLE_TIMEOUT_MS = 15_000

export const FRAME_CAR = 0x01
export const FRAME_END = 0x02
export const FRAME_ERROR = 0x03

export interface SyncRequest {
  want: CID
  have: CID[]
}

export function encodeRequest (request: SyncRequest): Uint8Array {
  return dagCbor.encode({ v: 1, want: request.want, have: request.have.slice(0, MAX_HAVES) })
}

export function decodeRequest (bytes: Uint8Array): SyncRequest {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new SyncProtocolError(`sync request is not DAG-CBOR: ${(err as Error).message}`)
  }
  const v = value as { v?: unknown, want?: unknown, have?: unknown }
  const want = CID.asCID(v?.want)
  if (v == null || typeof v !== 'object' || v.v !== 1 || want == null || !Array.isArray(v.have) || v.have.length > MAX_HAVES) {
    throw new SyncProtocolError('sync request must be { v: 1, want: CID, have: [CID] } with at most 1024 haves')
  }
  const have: CID[] = []
  for (const h of v.have) {
    const cid = CID.asCID(h)
    if (cid == null) throw new SyncProtocolError('sync request: every have must be a CID')
    have.push(cid)
  }
  return { want, have }
}

/** A frame: its type byte, then `body` (not copied). */
export function frame (type: number, body: Uint8Array): Uint8ArrayList {
  return new Uint8ArrayList(Uint8Array.of(type), body)
}

export interface SyncTrailer {
  blocks: number
  bytes: number
}
