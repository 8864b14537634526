/**
 * The OrbitDB anchor of the trace-append benchmark: `events.add` of N entries on a persisted,
 * offline OrbitDB 4 (Helia light + level block and data stores, libp2p on loopback with
 * gossipsub, as STACK.md describes). Run as its own process by trace-append.ts (so its libp2p
 * cannot keep the benchmark alive); prints one JSON object on stdout.
 */
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { createOrbitDB } from '@orbitdb/core'
import { withLibp2pLight } from '@helia/libp2p'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { LevelBlockstore } from 'blockstore-level'
import { LevelDatastore } from 'datastore-level'
import { createHeliaLight } from 'helia'
import { isMain, log, makeStep, now, perSecond, prng, round } from './common.ts'

export interface OrbitResult {
  entries: number
  ms: number
  perSecond: number
  setupMs: number
  /** Mean ms per `add`. */
  meanAddMs: number
  /** Entries read back with `all()` after the run (sanity check). */
  readBack: number
}

export async function benchOrbitdb (dir: string, count: number, seed: number): Promise<OrbitResult> {
  const t0 = now()
  const blockstore = new LevelBlockstore(join(dir, 'blocks'))
  const datastore = new LevelDatastore(join(dir, 'data'))
  await blockstore.open()
  await datastore.open()
  const helia = withLibp2pLight(createHeliaLight({ blockstore, datastore, codecs: [dagCbor] }), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true })
    }
  })
  await helia.start()
  const orbitdb = await createOrbitDB({ ipfs: helia, directory: join(dir, 'orbitdb') })
  const db = await orbitdb.open('framehub-bench-steps', { type: 'events' })
  const setupMs = now() - t0

  const rand = prng(seed)
  const values = Array.from({ length: count }, (_, i) => makeStep(rand, i))
  log(`orbitdb: adding ${count} entries`)
  const start = now()
  for (let i = 0; i < values.length; i++) {
    await db.add(values[i])
    if ((i + 1) % 250 === 0) log(`orbitdb: ${i + 1}/${count} (${perSecond(i + 1, now() - start)}/s)`)
  }
  const ms = now() - start
  const readBack = (await db.all()).length

  await db.close()
  await orbitdb.stop()
  await helia.stop()
  await blockstore.close()
  await datastore.close()
  return { entries: count, ms: round(ms), perSecond: perSecond(count, ms), setupMs: round(setupMs), meanAddMs: round(ms / Math.max(1, count), 3), readBack }
}

if (isMain(import.meta.url)) {
  const [dir, count, seed] = process.argv.slice(2)
  if (dir == null || count == null) throw new Error('usage: orbitdb-append.ts DIR COUNT [SEED]')
  const result = await benchOrbitdb(dir, Number(count), Number(seed ?? 42))
  process.stdout.write(JSON.stringify(result) + '\n')
  // libp2p timers must not keep the process alive once the numbers are out.
  process.exit(0)
}
