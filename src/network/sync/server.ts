import * as dagCbor from '@ipld/dag-cbor'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { MAX_BLOCK_BYTES } from '../../core/block.ts'
import { isFramehubError, PayloadTooLargeError } from '../../core/errors.ts'
import type { Code } from '../../core/errors.ts'
import { carStream } from '../../core/car.ts'
import { missingBlocks } from '../../core/missing.ts'
import type { ManyReader } from '../../core/closure.ts'
import type { BlockReader } from '../../core/tree/index.ts'
import { decodeRequest, frame, FRAME_CAR, FRAME_END, FRAME_ERROR, IDLE_TIMEOUT_MS, MAX_CAR_PIECE, MAX_REQUEST_BYTES } from './protocol.ts'

export interface SyncServerOptions {
  blocks: BlockReader & ManyReader & { has: (cid: import('multiformats/cid').CID) => Promise<boolean> }
  log: { warn: (obj: object, msg: string) => void, debug?: (obj: object, msg: string) => void }
  onServed?: (stats: { peer: string, want: string, blocks: number, bytes: number, ms: number }) => void
}

/** Coalesce CAR output into frames of about this size. */
const CHUNK = 256 * 1024

/** Answers one sync request on `stream` (see protocol.ts). Never throws: a bad asker gets an error frame. */
export async function serveSync (stream: Stream, connection: Connection, options: SyncServerOptions): Promise<void> {
  const started = performance.now()
  const peer = connection.remotePeer.toString()
  const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
  const stop = new AbortController()
  const onClose = (): void => { stop.abort(new Error('stream closed')) }
  stream.addEventListener('close', onClose)
  try {
    const request = decodeRequest((await lp.read({ signal: AbortSignal.timeout(IDLE_TIMEOUT_MS) })).subarray())
    if (!await options.blocks.has(request.want)) {
      await lp.write(frame(FRAME_ERROR, dagCbor.encode({ code: 'ERR_BLOCK_NOT_FOUND', message: `block ${request.want} is not on this node` })))
      await stream.close()
      return
    }
    let blocks = 0
    const counted = (async function * () {
      for await (const block of missingBlocks(options.blocks, request.want, request.have, { signal: stop.signal })) {
        // A block over the limit (stored by an older framehub) is never sent: no peer would take it.
        if (block.bytes.byteLength > MAX_BLOCK_BYTES) {
          throw new PayloadTooLargeError(`block ${block.cid} is ${block.bytes.byteLength} bytes, over the block limit of ${MAX_BLOCK_BYTES} bytes: it cannot be synced`, { cid: block.cid.toString(), bytes: block.bytes.byteLength, limit: MAX_BLOCK_BYTES })
        }
        yield block
        blocks++
      }
    })()
    let bytes = 0
    for await (const chunk of carStream(request.want, counted, { chunkBytes: Math.min(CHUNK, MAX_CAR_PIECE) })) {
      bytes += chunk.byteLength
      // A chunk with a big block is longer than CHUNK: the CAR is a byte stream, so it goes in
      // pieces that each fit a frame the asker reads.
      for (let at = 0; at < chunk.byteLength; at += MAX_CAR_PIECE) {
        // lp.write waits for the stream to drain: a slow asker slows the walk, memory stays flat.
        await lp.write(frame(FRAME_CAR, chunk.subarray(at, at + MAX_CAR_PIECE)), { signal: AbortSignal.any([stop.signal, AbortSignal.timeout(IDLE_TIMEOUT_MS)]) })
      }
    }
    await lp.write(frame(FRAME_END, dagCbor.encode({ blocks, bytes })))
    await stream.close()
    options.onServed?.({ peer, want: request.want.toString(), blocks, bytes, ms: performance.now() - started })
  } catch (err) {
    stop.abort(err)
    const code: Code = isFramehubError(err) ? err.code : 'ERR_SYNC_FAILED'
    options.log.warn({ peer, code, err: (err as Error).message }, 'sync request failed')
    try {
      await lp.write(frame(FRAME_ERROR, dagCbor.encode({ code, message: (err as Error).message })), { signal: AbortSignal.timeout(1000) })
      await stream.close({ signal: AbortSignal.timeout(1000) })
    } catch {
      stream.abort(err as Error)
    }
  } finally {
    stream.removeEventListener('close', onClose)
  }
}
