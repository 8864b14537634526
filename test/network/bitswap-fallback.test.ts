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
import { encodeBlock } from '../../src/core/codec.ts'
import { createNode } from '../../src/node.ts'
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
    await node.network!.connect(stock.libp2p.getMultiaddrs()[0]!.toString())
    const r = await node.replication!.sync(root.cid as CID, { from: [stock.libp2p.peerId.toString()] })
    assert.equal(r.peer, 'bitswap')
    assert.equal(r.blocks, 3)
    for (const b of [root, ...leaves]) assert.ok(Buffer.from(await node.repo.blocks.get(b.cid)).equals(b.bytes))
    assert.equal((await node.frames.get(root.cid.toString())).frame.id, 'root')
  })
})
