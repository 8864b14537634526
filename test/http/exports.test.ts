import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { CarBlockIterator } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { walkClosure } from '../../src/core/closure.ts'
import { scopeBlocks } from '../../src/http/routes/ipfs/car.ts'
import { createGateway } from '../../src/http/app.ts'
import { harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

const FRAMES = 12_000

/** A GET on a listening gateway, answered as soon as the headers are in (body not read). */
async function get (h: Pick<Harness, 'app'>, path: string): Promise<IncomingMessage> {
  const { port } = h.app.server.address() as AddressInfo
  return await new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path, agent: false }, resolve).on('error', reject).end()
  })
}

async function readAll (res: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of res) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** Checks a CAR with @ipld/car's reader: its root, and every block's hash; returns the block CIDs. */
async function checkCar (bytes: Uint8Array, root: string): Promise<string[]> {
  const it = await CarBlockIterator.fromBytes(bytes)
  assert.deepEqual((await it.getRoots()).map(String), [root])
  const cids: string[] = []
  for await (const b of it) {
    assert.deepEqual(new Uint8Array(createHash('sha256').update(b.bytes).digest()), b.cid.multihash.digest, `block ${b.cid} matches its hash`)
    cids.push(b.cid.toString())
  }
  return cids
}

/** The gateway's side of each connection, in the order they came. */
function serverSockets (h: Harness): Socket[] {
  const sockets: Socket[] = []
  h.app.server.on('connection', (socket: Socket) => { sockets.push(socket) })
  return sockets
}

/** Waits until the gateway has stopped writing to `socket` (its count unchanged over a few checks). */
async function writesSettled (socket: Socket): Promise<void> {
  let last = -1
  let same = 0
  while (same < 10) {
    await sleep(20)
    same = socket.bytesWritten === last ? same + 1 : 0
    last = socket.bytesWritten
  }
}

describe('full-DAG exports over HTTP (CAR dag-scope=all, snapshots)', () => {
  let h: Harness
  let sockets: Socket[]
  let commit: string
  let expected: string[]
  /** The CAR's size and digest, once checked block by block. */
  let carBytes = 0
  let carDigest = ''
  before(async () => {
    h = await harness({ exports: { concurrent: 1, queued: 1 } })
    // Bodies make the CAR about 40 MB: far more than the kernel's socket buffers on loopback
    // (several MB) hold for a client that reads nothing.
    await h.node.frames.import(Array.from({ length: FRAMES }, (_, i) => JSON.stringify({ id: `bulk/${i}`, kind: 'fact', body: { i, text: `frame ${i} `.repeat(300) } })))
    commit = (await h.node.commits.commit({ message: 'many blocks' })).commit.toString()
    expected = []
    for await (const b of walkClosure(h.node.repo.blocks, (await h.node.snapshots.resolveRoot(commit)))) expected.push(b.cid.toString())
    assert.ok(expected.length > FRAMES, `${expected.length} blocks`)
    // The same CAR as the snapshot service writes it, in process.
    const parts: Uint8Array[] = []
    for await (const chunk of h.node.snapshots.exportCar(CID.parse(commit)).car) parts.push(chunk)
    const car = Buffer.concat(parts)
    carBytes = car.byteLength
    carDigest = sha(car)
    assert.ok(carBytes > 24 * 1024 * 1024, `the CAR is ${carBytes} bytes`)
    sockets = serverSockets(h)
    await h.app.listen({ host: '127.0.0.1', port: 0 })
  })
  after(async () => { await h.close() })

  test('the walk behind a full-DAG CAR yields to the event loop every few hundred blocks', async () => {
    // Reads are synchronous: a walk that never waits for a turn of the event loop holds it for
    // the whole DAG, however fast its consumer is.
    let turns = 0
    let ticking = true
    const ticker = (async () => { while (ticking) { await nextTurn(); turns++ } })()
    let most = 0
    let since = 0
    let seenTurn = turns
    for await (const block of scopeBlocks(h.node.repo.blocks, CID.parse(commit), 'all', undefined)) {
      void block
      if (turns !== seenTurn) { seenTurn = turns; since = 0 }
      most = Math.max(most, ++since)
    }
    ticking = false
    await ticker
    assert.ok(most <= 512, `at most 512 blocks between two turns of the event loop, not ${most} (of ${expected.length})`)
  })

  test('the export lets the event loop turn: /health is answered while the CAR streams, and the bytes are the DAG', async () => {
    const res = await get(h, `/ipfs/${commit}?format=car&dag-scope=all`)
    assert.equal(res.statusCode, 200)
    // Health checks, one after another, for as long as the CAR streams.
    let ended = false
    let answeredDuring = 0
    const health = (async () => {
      while (!ended) {
        const r = await get(h, '/health')
        await readAll(r)
        assert.equal(r.statusCode, 200)
        if (!ended) answeredDuring++
      }
    })()
    const bytes = await readAll(res)
    ended = true
    await health
    assert.deepEqual(await checkCar(bytes, commit), expected)
    assert.equal(sha(bytes), carDigest)
    assert.ok(answeredDuring >= 2, `health answered ${answeredDuring} times during the export`)
  })

  test('a client that stops reading holds the walk: the gateway does not buffer the DAG ahead of it', async (t) => {
    const res = await get(h, `/ipfs/${commit}?format=car`)
    assert.equal(res.statusCode, 200)
    res.pause()
    // A failed check must not leave the turn taken for the tests after it.
    t.after(() => { res.destroy() })
    const socket = sockets.at(-1) as Socket
    await writesSettled(socket)
    // What the gateway holds for the socket is about one stream buffer, whatever the DAG's size.
    assert.ok(socket.writableLength <= 256 * 1024, `${socket.writableLength} bytes queued on the socket`)
    // Written, that is taken by the kernel's socket buffers: a fraction of the CAR.
    assert.ok(socket.bytesWritten < carBytes / 2, `${socket.bytesWritten} bytes written ahead of a client that read none (the CAR is ${carBytes})`)
    res.resume()
    assert.equal(sha(await readAll(res)), carDigest)
  })

  test('exports take turns: one streams, one waits, more get 503 ERR_OVERLOADED with Retry-After', async (t) => {
    const first = await get(h, `/ipfs/${commit}?format=car`)
    assert.equal(first.statusCode, 200)
    first.pause()
    t.after(() => { first.destroy() })
    assert.equal(h.app.framehub.exports.active, 1)
    // The second waits for the first (no answer yet); the snapshot export shares the gate.
    const second = get(h, `/api/v1/snapshots/${commit}`)
    while (h.app.framehub.exports.waiting < 1) await sleep(10)
    const third = await get(h, `/ipfs/${commit}?format=car&dag-scope=all`)
    assert.equal(third.statusCode, 503)
    assert.equal(third.headers['retry-after'], '1')
    const body = JSON.parse((await readAll(third)).toString()) as { code: string, message: string }
    assert.equal(body.code, 'ERR_OVERLOADED')
    // Smaller scopes do not wait.
    const block = await get(h, `/ipfs/${commit}?format=car&dag-scope=block`)
    assert.equal(block.statusCode, 200)
    await readAll(block)
    first.resume()
    assert.equal(sha(await readAll(first)), carDigest)
    const next = await second
    assert.equal(next.statusCode, 200)
    // The snapshot export is the same CAR (one root, DFS, no duplicates).
    assert.equal(sha(await readAll(next)), carDigest)
    while (h.app.framehub.exports.active > 0) await sleep(10)
  })

  test('a client that goes away frees its turn', async () => {
    const gone = await get(h, `/ipfs/${commit}?format=car`)
    gone.destroy()
    while (h.app.framehub.exports.active > 0) await sleep(10)
    const res = await get(h, `/ipfs/${commit}?format=car`)
    assert.equal(res.statusCode, 200)
    assert.equal(sha(await readAll(res)), carDigest)
  })

  test('a client that reads nothing is dropped after the stall timeout, and its turn goes to the next', async () => {
    const app = await createGateway(h.node, { logger: false, underPressure: false, exports: { concurrent: 1, queued: 0, stallMs: 300 } })
    try {
      await app.listen({ host: '127.0.0.1', port: 0 })
      const stalled = await get({ app }, `/ipfs/${commit}?format=car`)
      assert.equal(stalled.statusCode, 200)
      stalled.pause()
      assert.equal(app.framehub.exports.active, 1)
      // Never read: once the socket's buffers are full, the gateway gives up on it, and its turn.
      while (app.framehub.exports.active > 0) await sleep(10)
      const cut = new Promise<void>((resolve) => { stalled.once('close', resolve) })
      stalled.on('error', () => {})
      stalled.resume()
      await cut
      assert.equal(stalled.complete, false, 'the stalled CAR was cut short')
      const res = await get({ app }, `/ipfs/${commit}?format=car`)
      assert.equal(res.statusCode, 200)
      assert.equal(sha(await readAll(res)), carDigest)
    } finally {
      await app.close()
    }
  })
})
