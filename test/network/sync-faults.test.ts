import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CarWriter } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { identify } from '@libp2p/identify'
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { cidOf } from '../../src/core/cid.ts'
import { encodeBlock, MAX_BLOCK_BYTES } from '../../src/core/block.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { decodeRequest, encodeRequest, frame, FRAME_CAR, FRAME_END, FRAME_ERROR, MAX_FRAME_BYTES, SYNC_PROTOCOL } from '../../src/network/sync/protocol.ts'
import { tempDir } from '../helpers/repo.ts'

/** A peer that speaks the sync protocol badly: each test sets how it answers. */
type Answer = (stream: Stream, want: CID) => Promise<void>

async function carBytes (root: CID, blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  const chunks: Uint8Array[] = []
  const reading = (async () => { for await (const c of out) chunks.push(c) })()
  for (const b of blocks) await writer.put(b)
  await writer.close()
  await reading
  return Buffer.concat(chunks)
}

describe('sync with a faulty peer: rejected, logged, nothing stored, the node keeps serving', { timeout: 120_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let node: FramehubNode
  let good: FramehubNode
  let bad: Libp2p
  let answer: Answer
  const warnings: string[] = []

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-sync-faults-'))
    const log = { info () {}, debug () {}, warn (o: object, m: string) { warnings.push(`${m} ${JSON.stringify(o)}`) } }
    const listen = ['/ip4/127.0.0.1/tcp/0']
    node = await createNode({ repo: join(dir, 'node'), create: true, network: { listen, log, syncIdleMs: 1500 } })
    good = await createNode({ repo: join(dir, 'good'), create: true, network: { listen } })
    bad = await createLibp2p({
      addresses: { listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    await bad.handle(SYNC_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      const request = decodeRequest((await lp.read()).subarray())
      await answer(stream, request.want)
    })
    await node.network?.connect(bad.getMultiaddrs()[0]?.toString() as string)
    await node.network?.connect(good.network?.addresses()[0] as string)
  })

  after(async () => {
    await bad?.stop()
    await good?.close()
    await node?.close()
    await cleanup()
  })

  const frameBlock = (title: string): { cid: CID, bytes: Uint8Array } => encodeBlock({ id: `f/${title}`, kind: 'fact', title })

  /** Asks the bad peer for `want`; the sync must fail with one of `codes` and leave nothing behind. */
  /** A sync of `want` from the bad peer fails with one of `codes`; a fault in what the peer sent is ERR_SYNC_PROTOCOL (502 over HTTP) naming it as `reason`. */
  const refused = async (want: CID, codes: string[], reason?: string): Promise<void> => {
    await assert.rejects(node.replication!.sync(want, { from: [bad.peerId.toString()] }), (err: { code?: string, details?: { reason?: string } }) => {
      assert.ok(codes.includes(err.code ?? ''), `code ${err.code}, expected one of ${codes.join(', ')}`)
      if (reason !== undefined) assert.equal(err.details?.reason, reason)
      return true
    })
    assert.equal(await node.repo.blocks.has(want), false, 'nothing of a refused answer is visible')
    assert.deepEqual(await node.repo.db.pending.keys({ limit: 1 }).all(), [], 'nothing is left staged')
    // The node keeps serving: a good peer's DAG still syncs.
    const stamp = `${Date.now()}-${Math.random()}`
    const put = await good.frames.put({ id: `ok/${stamp}`, kind: 'fact', title: stamp })
    const r = await node.replication!.sync(put.cid, { from: [good.peerId] })
    assert.equal(r.peer, good.peerId)
    assert.equal(await node.repo.blocks.has(put.cid), true)
  }

  it('a block whose bytes do not match its CID', async () => {
    const want = frameBlock('wanted')
    answer = async (stream, root) => {
      const lp = lpStream(stream)
      await lp.write(frame(FRAME_CAR, await carBytes(root, [{ cid: root, bytes: frameBlock('forged').bytes }])))
      await lp.write(frame(FRAME_END, dagCbor.encode({ blocks: 1, bytes: 10 })))
      await stream.close()
    }
    await refused(want.cid, ['ERR_SYNC_PROTOCOL'], 'ERR_BLOCK_CORRUPT')
  })

  it('junk instead of a CAR', async () => {
    answer = async (stream) => {
      const lp = lpStream(stream)
      await lp.write(frame(FRAME_CAR, new TextEncoder().encode('this is not a CAR file at all, just some junk bytes')))
      await lp.write(frame(FRAME_END, dagCbor.encode({ blocks: 0, bytes: 0 })))
      await stream.close()
    }
    await refused(frameBlock('junk').cid, ['ERR_SYNC_PROTOCOL'], 'ERR_CAR_INVALID')
  })

  it('a CAR for another root, and a CAR whose DAG is incomplete', async () => {
    const other = frameBlock('other')
    answer = async (stream) => {
      const lp = lpStream(stream)
      await lp.write(frame(FRAME_CAR, await carBytes(other.cid, [other])))
      await lp.write(frame(FRAME_END, dagCbor.encode({ blocks: 1, bytes: 1 })))
      await stream.close()
    }
    await refused(frameBlock('asked').cid, ['ERR_SYNC_PROTOCOL'], 'ERR_CAR_INVALID')
    // A frame that links to a block the answer leaves out.
    const linked = frameBlock('linked')
    const parent = encodeBlock({ id: 'f/parent', kind: 'fact', links: [linked.cid] })
    answer = async (stream, root) => {
      const lp = lpStream(stream)
      await lp.write(frame(FRAME_CAR, await carBytes(root, [parent])))
      await lp.write(frame(FRAME_END, dagCbor.encode({ blocks: 1, bytes: 1 })))
      await stream.close()
    }
    await refused(parent.cid, ['ERR_SYNC_PROTOCOL'], 'ERR_DAG_INCOMPLETE')
  })

  it('an oversized frame', async () => {
    answer = async (stream) => {
      // A length prefix of 64 MiB (varint), far above the 4 MiB frame limit, then some bytes.
      const varint = [0x80, 0x80, 0x80, 0x20]
      stream.send(Uint8Array.from([...varint, FRAME_CAR, 1, 2, 3]))
      await new Promise(resolve => setTimeout(resolve, 3000))
      await stream.close().catch(() => {})
    }
    // What a framehub without the block limit sends for a big block: final (not retried), not a hiccup.
    await refused(frameBlock('big').cid, ['ERR_PAYLOAD_TOO_LARGE'])
  })

  it('a peer that stalls in the middle of the CAR', async () => {
    const want = frameBlock('stalled')
    // The peer stalls until the test lets it go, after the refusal: the sync gave up on its own
    // idle timeout, not because the stream ended.
    const { promise: letGo, resolve } = Promise.withResolvers<void>()
    let stallEnded = false
    answer = async (stream, root) => {
      const lp = lpStream(stream)
      const car = await carBytes(root, [want])
      await lp.write(frame(FRAME_CAR, car.subarray(0, 20)))
      await letGo
      stallEnded = true
      await stream.close().catch(() => {})
    }
    try {
      await refused(want.cid, ['ERR_SYNC_PROTOCOL'])
      assert.equal(stallEnded, false, 'given up while the peer still stalled')
    } finally {
      resolve()
    }
  })

  it('an error frame, an unknown frame type, and a stream closed without the end frame', async () => {
    answer = async (stream) => {
      await lpStream(stream).write(frame(FRAME_ERROR, dagCbor.encode({ code: 'ERR_BLOCK_NOT_FOUND', message: 'no such block' })))
      await stream.close()
    }
    await refused(frameBlock('missing').cid, ['ERR_BLOCK_NOT_FOUND'])
    answer = async (stream) => {
      await lpStream(stream).write(frame(0x7f, new Uint8Array(4)))
      await stream.close()
    }
    await refused(frameBlock('unknown').cid, ['ERR_SYNC_PROTOCOL'])
    const want = frameBlock('cut')
    answer = async (stream, root) => {
      await lpStream(stream).write(frame(FRAME_CAR, await carBytes(root, [want])))
      await stream.close()
    }
    await refused(want.cid, ['ERR_SYNC_PROTOCOL'])
  })

  it('a frame of the largest size syncs; a stored block over the limit is refused as ERR_PAYLOAD_TOO_LARGE, never sent over the frame limit', async () => {
    // A frame at the block limit travels between real nodes.
    const padded = (size: number, id: string): Record<string, unknown> => {
      let pad = size - 100
      for (;;) {
        const json = { id, kind: 'fact', body: 'y'.repeat(pad) }
        const bytes = dagCbor.encode(json).byteLength
        if (bytes === size) return json
        pad += size - bytes
      }
    }
    const largest = await good.frames.put(padded(MAX_BLOCK_BYTES, 'sync/largest'))
    const r = await node.replication!.sync(largest.cid, { from: [good.peerId] })
    assert.equal(r.blocks, 1)
    assert.equal(await node.repo.blocks.has(largest.cid), true)
    // A 5 MiB frame block, as a framehub without the limit stored it (written past encodeBlock).
    const bytes = dagCbor.encode(padded(5 * 1024 * 1024, 'sync/too-big'))
    const old = { cid: cidOf(bytes), bytes }
    await good.repo.batch().putBlock(old.cid, old.bytes).write()
    // Asked as a peer that reads frames up to the protocol's limit, it answers with frames that
    // all fit, ending with the refusal; it never sends a frame over MAX_FRAME_BYTES.
    const stream = await bad.dialProtocol(multiaddr(good.network?.addresses()[0] as string), SYNC_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    await lp.write(encodeRequest({ want: old.cid, have: [] }))
    let last: Uint8Array
    do last = (await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray()
    while (last[0] === FRAME_CAR)
    assert.equal(last[0], FRAME_ERROR)
    assert.equal((dagCbor.decode(last.subarray(1)) as { code: string }).code, 'ERR_PAYLOAD_TOO_LARGE')
    await stream.close().catch(() => {})
    // Through the node's sync: the same code, which the node does not retry, and nothing stored.
    await assert.rejects(node.replication!.sync(old.cid, { from: [good.peerId] }), { code: 'ERR_PAYLOAD_TOO_LARGE' })
    assert.equal(await node.repo.blocks.has(old.cid), false)
  })

  it('a bad sync request gets an error frame, and the answering node keeps serving', async () => {
    const stream = await bad.dialProtocol(peerIdFromString(node.peerId), SYNC_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(dagCbor.encode({ v: 2, want: 'nope', have: [] }))
    const reply = (await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()
    assert.equal(reply[0], FRAME_ERROR)
    assert.equal((dagCbor.decode(reply.subarray(1)) as { code: string }).code, 'ERR_SYNC_PROTOCOL')
    assert.ok(warnings.some(w => w.startsWith('sync request failed') && w.includes('ERR_SYNC_PROTOCOL')), 'the refusal is logged')
    // Still answering: the good node syncs from it.
    const put = await node.frames.put({ id: 'served/after-bad-request', kind: 'fact' })
    await good.network?.connect(node.network?.addresses()[0] as string)
    const r = await good.replication!.sync(put.cid, { from: [node.peerId] })
    assert.equal(r.peer, node.peerId)
  })
})
