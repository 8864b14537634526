import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { encodeBlock } from '../../src/core/block.ts'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { tempDir } from '../helpers/repo.ts'

const listen = ['/ip4/127.0.0.1/tcp/0']

interface PinStatus { requestid: string, status: string, delegates: string[], info?: Record<string, string> }

describe('the pinning service fetches what this node lacks from the network', { timeout: 120_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let b: FramehubNode
  let app: FastifyInstance
  let auth: Record<string, string>

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-pins-fetch-'))
    // b knows nobody at first: a pin request's origins name the peer that has the DAG.
    b = await createNode({ repo: join(dir, 'b'), create: true, network: { listen, network: 'pins-fetch' }, pins: { fetchTimeoutMs: 3000 } })
    app = await createGateway(b, { logger: false, underPressure: false })
    auth = { authorization: `Bearer ${b.repo.config.apiToken}` }
  })
  after(async () => {
    await app?.close()
    await b?.close()
    await cleanup()
  })

  /**
   * A peer of each test's own, stopped when the test ends (stopped, not only disconnected: a
   * running peer of the network may dial b again).
   */
  const withPeer = async (name: string, use: (a: FramehubNode) => Promise<void>): Promise<void> => {
    const a = await createNode({ repo: join(dir, name), create: true, network: { listen, network: 'pins-fetch' } })
    try {
      await use(a)
    } finally {
      await a.close()
    }
  }

  const pin = async (payload: Record<string, unknown>): Promise<PinStatus> => {
    const res = await app.inject({ method: 'POST', url: '/pins', headers: auth, payload })
    assert.equal(res.statusCode, 202, res.body)
    await app.framehub.pins.idle()
    return (await app.inject({ url: `/pins/${(res.json() as PinStatus).requestid}`, headers: auth })).json() as PinStatus
  }

  it('dials the origins, syncs the DAG (checked, complete) and pins it', async () => await withPeer('a1', async (a) => {
    const frame = await a.frames.put({ id: 'pinned/1', kind: 'fact', title: 'kept by b' })
    const { commit: cid } = await a.commits.commit({ message: 'to pin elsewhere' })
    assert.equal(await b.repo.blocks.has(cid), false)

    const status = await pin({ cid: cid.toString(), name: 'from a', origins: a.network!.addresses() })
    assert.equal(status.status, 'pinned', JSON.stringify(status.info))
    assert.equal(status.info?.fetched_from, a.peerId)
    assert.ok(Number(status.info?.fetched_blocks) >= 3)
    assert.equal(await (await b.repo.helia()).pins.isPinned(cid), true)
    assert.equal((await b.frames.get(frame.cid.toString())).frame.title, 'kept by b')
    // Delegates are b's own addresses, where a client can connect.
    assert.deepEqual(status.delegates, b.network!.addresses())
    assert.ok(status.delegates.every(d => d.startsWith('/ip4/127.0.0.1/') && d.endsWith(`/p2p/${b.peerId}`)))
  }))

  it('fails with the reason when no peer gives the DAG: a peer says so, or none answers in time', async () => {
    // A peer (dialled as the origin) answers that it does not have the block.
    const unknown = encodeBlock({ id: 'nowhere', kind: 'fact' }).cid
    await withPeer('a2', async (a) => {
      const refused = await pin({ cid: unknown.toString(), origins: a.network!.addresses() })
      assert.equal(refused.status, 'failed')
      assert.match(refused.info?.status_details ?? '', /ERR_BLOCK_NOT_FOUND: peer \S+: block \S+ is not on this node/)
    })

    // Nobody to ask (the peer is stopped), and origins that cannot be dialled (not an error in
    // themselves): the fetch timeout (3 s here) ends it.
    const alone = encodeBlock({ id: 'nowhere/2', kind: 'fact' }).cid
    const timedOut = await pin({ cid: alone.toString(), origins: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWQ9t8WX8Ms6RMWbg2eJqGyBqHi8LTnbbiC5oRLPUqQYHG', 'not a multiaddr'] })
    assert.equal(timedOut.status, 'failed')
    assert.match(timedOut.info?.status_details ?? '', /no connected peer gave \S+ within 3 s/)
    assert.equal(await b.repo.blocks.has(unknown), false)
    assert.equal(await b.repo.blocks.has(alone), false)
  })
})
