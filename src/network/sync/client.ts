import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import { BlockNotFoundError, PayloadTooLargeError, PeerUnreachableError, SyncProtocolError } from '../../core/errors.ts'
import { encodeRequest, FRAME_CAR, FRAME_END, FRAME_ERROR, IDLE_TIMEOUT_MS, MAX_FRAME_BYTES, SYNC_PROTOCOL, TOO_LARGE } from './protocol.ts'
import type { SyncTrailer } from './protocol.ts'

export interface FetchOptions {
  signal?: AbortSignal
  /** Give up when the peer sends nothing for this long (default 15 s). */
  idleMs?: number
}

/**
 * Asks `peer` for what this node lacks of `want` and returns the CAR bytes as they arrive.
 * The iterable fails (SyncProtocolError) if the peer stalls, breaks the framing, or reports an
 * error; it ends only after the peer said the CAR is complete. Checking the blocks is the
 * importer's job.
 */
export async function fetchMissing (libp2p: Libp2p, peer: PeerId, want: CID, have: CID[], options: FetchOptions = {}): Promise<{ car: AsyncIterable<Uint8Array>, trailer: Promise<SyncTrailer> }> {
  const idle = options.idleMs ?? IDLE_TIMEOUT_MS
  let stream
  try {
    // A peer known to speak framehub sync (its identify said so) gets the protocol's name and the
    // request in one message (no round trip to agree on the protocol first); another peer is asked
    // first, so that one that does not speak it is told apart from one that fails mid-answer.
    const speaks = (await libp2p.peerStore.get(peer).catch(() => undefined))?.protocols.includes(SYNC_PROTOCOL) === true
    stream = await libp2p.dialProtocol(peer, SYNC_PROTOCOL, { signal: AbortSignal.any([AbortSignal.timeout(idle), ...(options.signal != null ? [options.signal] : [])]), negotiateFully: !speaks })
  } catch (err) {
    throw new PeerUnreachableError(`cannot open a sync stream to ${peer.toString()}: ${(err as Error).message}`, { peer: peer.toString() })
  }
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
  await lp.write(encodeRequest({ want, have }))
  const { promise: trailer, resolve, reject } = Promise.withResolvers<SyncTrailer>()
  trailer.catch(() => {})
  const car = (async function * () {
    let done = false
    try {
      for (;;) {
        const signal = AbortSignal.any([AbortSignal.timeout(idle), ...(options.signal != null ? [options.signal] : [])])
        let message: Uint8Array
        try {
          message = (await lp.read({ signal })).subarray()
        } catch (err) {
          if (options.signal?.aborted === true) throw options.signal.reason
          // Only a framehub without the block limit sends a frame this long (a block over 4 MiB in
          // one piece): asking again would get the same, so this is final, not a protocol hiccup.
          if ((err as Error).name === 'InvalidDataLengthError') {
            throw new PayloadTooLargeError(`sync from ${peer.toString()}: the peer sent a frame over ${MAX_FRAME_BYTES} bytes (it holds a block over the block limit, written by an older framehub): ${(err as Error).message}`, { peer: peer.toString(), cid: want.toString() })
          }
          const why = signal.aborted ? `sent nothing for ${idle} ms` : (err as Error).message
          throw new SyncProtocolError(`sync from ${peer.toString()} broke off: ${why}`, { peer: peer.toString() })
        }
        const type = message[0]
        const body = message.subarray(1)
        if (type === FRAME_CAR) {
          yield body
        } else if (type === FRAME_END) {
          const t = decodeCbor<SyncTrailer>(body, peer)
          done = true
          resolve({ blocks: Number(t.blocks), bytes: Number(t.bytes) })
          return
        } else if (type === FRAME_ERROR) {
          const e = decodeCbor<{ code?: unknown, message?: unknown }>(body, peer)
          const message = `peer ${peer.toString()}: ${String(e.message)}`
          if (e.code === 'ERR_BLOCK_NOT_FOUND') throw new BlockNotFoundError(message, { cid: want.toString() })
          if (e.code === TOO_LARGE) throw new PayloadTooLargeError(message, { peer: peer.toString(), cid: want.toString() })
          throw new SyncProtocolError(message, { peer: peer.toString(), code: String(e.code) })
        } else {
          throw new SyncProtocolError(`sync from ${peer.toString()}: unknown frame type ${String(type)}`, { peer: peer.toString() })
        }
      }
    } catch (err) {
      reject(err)
      throw err
    } finally {
      if (done) await stream.close().catch(() => {})
      else stream.abort(new Error('sync abandoned'))
    }
  })()
  return { car, trailer }
}

function decodeCbor<T> (bytes: Uint8Array, peer: PeerId): T {
  try {
    const value = dagCbor.decode(bytes)
    if (value == null || typeof value !== 'object') throw new Error('not a map')
    return value as T
  } catch (err) {
    throw new SyncProtocolError(`sync from ${peer.toString()}: bad frame (${(err as Error).message})`, { peer: peer.toString() })
  }
}
