import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import { base58btc } from 'multiformats/bases/base58'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { decodeHeads, encodeHeads, entryBlock, HEADS_PROTOCOL, MAX_ENTRIES, MAX_MESSAGE_BYTES } from '../../src/network/heads.ts'
import { waitFor } from '../helpers/daemon.ts'
import { tempDir } from '../helpers/repo.ts'

const refused = (bytes: Uint8Array): void => {
  assert.throws(() => decodeHeads(bytes), (err: { code?: string }) => err.code === 'ERR_SYNC_PROTOCOL')
}

describe('heads message (network/heads.ts)', () => {
  it('round-trips, keeps the order given, and leaves out what would make it too long', () => {
    const entries = [Uint8Array.of(1, 2, 3), new Uint8Array(1000).fill(7), Uint8Array.of()]
    assert.deepEqual(decodeHeads(encodeHeads(entries)), entries)
    const big = new Uint8Array(MAX_MESSAGE_BYTES / 2)
    const kept = decodeHeads(encodeHeads([big, big, Uint8Array.of(9)]))
    assert.equal(kept.length, 2, 'the second big entry does not fit; the small one after it does')
    assert.ok(encodeHeads([big, big, big]).byteLength <= MAX_MESSAGE_BYTES)
    assert.equal(decodeHeads(encodeHeads(Array.from({ length: MAX_ENTRIES + 5 }, () => Uint8Array.of(1)))).length, MAX_ENTRIES)
  })

  it('refuses what is not a heads message, with ERR_SYNC_PROTOCOL', () => {
    refused(new TextEncoder().encode('not cbor at all'))
    refused(Uint8Array.of(0xff, 0xff))
    refused(dagCbor.encode(null))
    refused(dagCbor.encode([1, 2]))
    refused(dagCbor.encode({ v: 2, entries: [] }))
    refused(dagCbor.encode({ v: 1 }))
    refused(dagCbor.encode({ v: 1, entries: 'x' }))
    refused(dagCbor.encode({ v: 1, entries: ['not bytes'] }))
    refused(dagCbor.encode({ v: 1, entries: Array.from({ length: MAX_ENTRIES + 1 }, () => Uint8Array.of(1)) }))
  })

  it('names each entry by the CID its bytes hash to (DAG-CBOR, SHA-256, as OrbitDB writes them)', async () => {
    const bytes = dagCbor.encode({ hello: 'world' })
    const a = await entryBlock(bytes)
    assert.equal(a.cid.code, dagCbor.code)
    assert.equal(a.cid.version, 1)
    assert.notEqual((await entryBlock(dagCbor.encode({ hello: 'other' }))).cid.toString(), a.cid.toString())
  })
})

describe('heads exchange between connected nodes', { timeout: 120_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let node: FramehubNode
  let raw: Libp2p
  const received: Uint8Array[][] = []
  const debug: string[] = []

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-heads-'))
    const listen = ['/ip4/127.0.0.1/tcp/0']
    const log = { info () {}, warn () {}, debug (o: object, m: string) { debug.push(`${m} ${JSON.stringify(o)}`) } }
    node = await createNode({ repo: join(dir, 'node'), create: true, network: { listen, log, network: 'heads-test' } })
    // A bare libp2p peer that records the heads it is sent.
    raw = await createLibp2p({
      addresses: { listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    await raw.handle(HEADS_PROTOCOL, async (stream) => {
      const message = await lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES }).read()
      received.push(decodeHeads(message.subarray()))
      await stream.close()
    })
  })
  after(async () => {
    await raw?.stop()
    await node?.close()
    await cleanup()
  })

  it('a node sends the newest entry of its chain to a peer as soon as it connects', async () => {
    await node.refs.checkout('shared/main', { create: true })
    await node.frames.put({ id: 'heads/one', kind: 'fact', title: 'one' })
    const commit = await node.commits.commit({ message: 'one' })
    const published = await node.replication!.publish({ branch: 'shared/main' })
    assert.ok(published != null)
    await raw.dial(multiaddr(node.network?.addresses()[0] as string))
    const entries = await waitFor('the heads sent on connection', async () => received[0], 10_000, 20)
    assert.ok(entries.length >= 1)
    const newest = dagCbor.decode(entries[0] as Uint8Array) as { id: string, payload: { op: string, value: { node: string, ref?: { name: string, head: string } } } }
    assert.equal(newest.id, node.network?.chain, 'the first entry is of the node\'s own chain')
    assert.equal(newest.payload.value.node, node.peerId)
    assert.equal(newest.payload.value.ref?.name, 'shared/main')
    assert.equal(newest.payload.value.ref?.head, commit.commit.toString())
  })

  it('junk sent as heads is refused and logged; the node goes on answering', async () => {
    const junk = [
      new TextEncoder().encode('junk, not a heads message'),
      dagCbor.encode({ v: 1, entries: [new TextEncoder().encode('not an entry')] }),
      dagCbor.encode({ v: 1, entries: [dagCbor.encode({ id: '/orbitdb/zdpuUnknownChain', payload: { op: 'ADD', value: 1 } })] })
    ]
    for (const message of junk) {
      const stream = await raw.dialProtocol(peerIdFromString(node.peerId), HEADS_PROTOCOL)
      await lpStream(stream).write(message)
      await stream.close()
    }
    // An oversized length prefix (64 MiB) is refused before anything is read into memory.
    const stream = await raw.dialProtocol(peerIdFromString(node.peerId), HEADS_PROTOCOL)
    stream.send(Uint8Array.from([0x80, 0x80, 0x80, 0x20, 1, 2, 3]))
    await waitFor('junk refused', async () => debug.filter(l => l.startsWith('heads from a peer refused')).length >= 2 ? true : undefined, 10_000, 20)
    // Entries of chains the node does not follow are left alone: nothing was stored for them.
    for (const message of junk.slice(1)) {
      for (const bytes of decodeHeads(message)) assert.equal(await node.repo.blocks.has((await entryBlock(bytes)).cid), false)
    }
    const put = await node.frames.put({ id: 'heads/after', kind: 'fact', title: 'after' })
    assert.equal((await node.frames.get('heads/after')).cid.toString(), put.cid.toString())
  })

  it('an entry of a followed chain that its owner did not sign is never stored', async () => {
    const other = await createNode({ repo: join(dir, 'other'), create: true, network: { listen: ['/ip4/127.0.0.1/tcp/0'], network: 'heads-test', bootstrap: [node.network?.addresses()[0] as string] } })
    try {
      await waitFor('the node follows the other chain', async () => node.network?.peers().find(p => p.peer === other.peerId)?.chain === other.network?.chain ? true : undefined, 30_000, 50)
      const forged = dagCbor.encode({
        v: 2,
        id: other.network?.chain,
        clock: { id: 'forged', time: 1000 },
        next: [],
        refs: [],
        payload: { op: 'ADD', key: null, value: { v: 1, node: other.peerId, time: Date.now(), ref: { name: 'shared/main', head: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' }, sig: new Uint8Array(64) } }
      })
      const stream = await raw.dialProtocol(peerIdFromString(node.peerId), HEADS_PROTOCOL)
      await lpStream(stream).write(encodeHeads([forged]))
      await stream.close()
      const { cid } = await entryBlock(forged)
      await waitFor('the forged entry refused', async () => debug.some(l => l.startsWith('a chain entry sent by a peer refused') && l.includes(cid.toString(base58btc))) ? true : undefined, 10_000, 20)
      assert.equal(await node.repo.blocks.has(cid), false)
    } finally {
      await other.close()
    }
  })
})
