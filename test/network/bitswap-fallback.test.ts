import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createHeliaLight } from 'helia'
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import { encodeBlock } from '../../src/core/block.ts'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import { blockKey } from '../../src/storage/level-db.ts'
import type { FramehubNode } from '../../src/node.ts'
import { tempDir } from '../helpers/repo.ts'

describe('sync falls back to bitswap when the peer is a stock IPFS node', { timeout: 120_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let node: FramehubNode
  let stock: Helia & HeliaWithLibp2p<any>

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-fallback-'))
    node = await createNode({ repo: join(dir, 'node'), create: true, network: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
    stock = withBitswap(withLibp2pLight(createHeliaLight({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), codecs: [dagCbor] }), {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [],
      services: { identify: identify() }
    }) as HeliaWithLibp2p) as Helia & HeliaWithLibp2p<any>
    await stock.start()
    await node.network!.connect(stock.libp2p.getMultiaddrs()[0]!.toString())
  })
  after(async () => {
    await stock?.stop()
    await node?.close()
    await cleanup()
  })

  it('fetches a small DAG block by block, checks it, and makes it visible', async () => {
    // Three frames: the root links to the other two (no framehub code on the stock side but the encoder).
    const leaves = [encodeBlock({ id: 'leaf/1', kind: 'fact', title: 'one' }), encodeBlock({ id: 'leaf/2', kind: 'fact', title: 'two' })]
    const root = encodeBlock({ id: 'root', kind: 'fact', links: leaves.map(l => ({ cid: l.cid })) })
    for (const b of [root, ...leaves]) await stock.blockstore.put(b.cid, b.bytes)
    const r = await node.replication!.sync(root.cid as CID, { from: [stock.libp2p.peerId.toString()] })
    assert.equal(r.peer, 'bitswap')
    assert.equal(r.blocks, 3)
    for (const b of [root, ...leaves]) assert.ok(Buffer.from(await node.repo.blocks.get(b.cid)).equals(b.bytes))
    assert.equal((await node.frames.get(root.cid.toString())).frame.id, 'root')
    assert.deepEqual(await fetchedKeys(), [], 'nothing is left apart once imported')
  })

  it('a fallback that fails half-way makes nothing visible, and the next one completes the DAG', async () => {
    const held = encodeBlock({ id: 'held/1', kind: 'fact', title: 'the stock node has it' })
    const late = encodeBlock({ id: 'late/1', kind: 'fact', title: 'the stock node gets it later' })
    const root = encodeBlock({ id: 'root/2', kind: 'fact', links: [{ cid: held.cid }, { cid: late.cid }] })
    for (const b of [root, held]) await stock.blockstore.put(b.cid, b.bytes)
    const from = [stock.libp2p.peerId.toString()]

    await assert.rejects(node.replication!.sync(root.cid as CID, { from, signal: AbortSignal.timeout(2000) }))
    // What bitswap brought is kept apart, not visible: no stored block lacks its children.
    for (const b of [root, held, late]) assert.equal(await node.repo.blocks.has(b.cid), false, `${b.cid} is not visible`)
    assert.deepEqual(await fetchedKeys(), [blockKey(root.cid), blockKey(held.cid)].sort())
    const gateway = await createGateway(node, { logger: false, rateLimit: false })
    try {
      const res = await gateway.inject({ url: `/ipfs/${root.cid.toString()}`, headers: { accept: 'application/vnd.ipld.raw' } })
      assert.equal(res.statusCode, 404)
    } finally {
      await gateway.close()
    }

    await stock.blockstore.put(late.cid, late.bytes)
    const r = await node.replication!.sync(root.cid as CID, { from })
    assert.equal(r.peer, 'bitswap')
    for (const b of [root, held, late]) assert.ok(Buffer.from(await node.repo.blocks.get(b.cid)).equals(b.bytes))
    assert.deepEqual(await fetchedKeys(), [])
  })

  it('fetches only what is missing: a stored block\'s closure is complete', async () => {
    const stored = encodeBlock({ id: 'stored/1', kind: 'fact', title: 'both have it' })
    await node.repo.batch().putBlock(stored.cid, stored.bytes).write()
    await stock.blockstore.put(stored.cid, stored.bytes)
    const root = encodeBlock({ id: 'root/3', kind: 'fact', links: [{ cid: stored.cid }] })
    await stock.blockstore.put(root.cid, root.bytes)
    const r = await node.replication!.sync(root.cid as CID, { from: [stock.libp2p.peerId.toString()] })
    assert.equal(r.peer, 'bitswap')
    assert.equal(r.bytes, root.bytes.byteLength, 'only the new block travelled')
    assert.ok(await node.repo.blocks.has(root.cid))
  })

  async function fetchedKeys (): Promise<string[]> {
    const keys: string[] = []
    for await (const key of node.repo.db.fetched.keys()) keys.push(key)
    return keys.sort()
  }
})
