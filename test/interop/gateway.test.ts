/**
 * Stock IPFS clients that framehub did not write, against the gateway listening on loopback:
 * @helia/verified-fetch (over a Helia node whose only source is this gateway), @ipld/car for
 * the gateway's own CARs, and @ipfs-shipyard/pinning-service-client for /pins.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fallbackRouter } from '@helia/fallback-router'
import { withHTTP } from '@helia/http'
import { createVerifiedFetch } from '@helia/verified-fetch'
import type { VerifiedFetch } from '@helia/verified-fetch'
import { Configuration, RemotePinningServiceClient, Status } from '@ipfs-shipyard/pinning-service-client'
import * as dagCbor from '@ipld/dag-cbor'
import { CarBlockIterator } from '@ipld/car'
import type { FastifyInstance } from 'fastify'
import { createHeliaLight } from 'helia'
import type { Helia } from 'helia'
import { CID } from 'multiformats/cid'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'

async function carBlocks (bytes: Uint8Array): Promise<{ roots: string[], blocks: string[] }> {
  const it = await CarBlockIterator.fromBytes(bytes)
  const roots = (await it.getRoots()).map(String)
  const blocks: string[] = []
  for await (const b of it) {
    assert.deepEqual(new Uint8Array(createHash('sha256').update(b.bytes).digest()), b.cid.multihash.digest, `${b.cid} verifies`)
    blocks.push(b.cid.toString())
  }
  return { roots, blocks }
}

describe('interop with stock IPFS clients (loopback only)', () => {
  let dir: string
  let node: FramehubNode
  let app: FastifyInstance
  let base: string
  let helia: Helia
  let vfetch: VerifiedFetch
  const requested: string[] = []
  const realFetch = globalThis.fetch
  let frameCid: string
  let commitCid: string
  let fileCid: string
  const fileBytes = Buffer.from('attached bytes, served as UnixFS\n'.repeat(100))

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'framehub-interop-'))
    node = await createNode({ repo: dir, create: true })
    app = await createGateway(node, { logger: false, underPressure: false })
    await app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    // Every HTTP request any client makes in this file must go to the gateway on loopback.
    globalThis.fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input)
      requested.push(url)
      if (!url.startsWith(base)) throw new Error(`a client tried to reach ${url}`)
      return await realFetch(input, init)
    }
    const auth = { authorization: `Bearer ${node.repo.config.apiToken}`, 'content-type': 'application/json' }
    const leaf = await (await fetch(`${base}/api/v1/frames`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'interop/leaf', kind: 'fact', body: { n: 1 } }) })).json() as { cid: string }
    const up = await (await fetch(`${base}/api/v1/attachments?name=a.txt`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: fileBytes })).json() as { cid: string }
    fileCid = up.cid
    const frame = await (await fetch(`${base}/api/v1/frames`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ id: 'interop/frame', kind: 'fact', title: 'interop', links: [{ cid: { '/': leaf.cid } }], attachments: [{ name: 'a.txt', cid: { '/': fileCid }, size: fileBytes.length, type: 'text/plain' }] })
    })).json() as { cid: string }
    frameCid = frame.cid
    commitCid = ((await (await fetch(`${base}/api/v1/commits`, { method: 'POST', headers: auth, body: JSON.stringify({ message: 'interop' }) })).json()) as { commit: string }).commit

    // A Helia node with no libp2p, no delegated routing, no public gateways: only ours. The gateway
    // is given as a plain router, not a fallback one: with no other router, Helia's findProviders
    // (helia 7.1.15 routing.js) waits forever before it reaches the fallback routers.
    helia = withHTTP(createHeliaLight({ codecs: [dagCbor] }), { delegatedRouters: [], recursiveGateways: [], allowInsecure: true, allowLocal: true })
    const gateway = fallbackRouter({ gateways: [base] })
    helia.addRouter({ name: 'framehub-gateway', findProviders: (cid, options) => gateway.findProviders?.(cid, options) ?? (async function * () {})() } as Parameters<Helia['addRouter']>[0])
    await helia.start()
    vfetch = await createVerifiedFetch(helia)
  })

  after(async () => {
    await vfetch?.stop()
    await helia?.stop()
    globalThis.fetch = realFetch
    await app.close()
    await node.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('verified-fetch fetches and verifies a frame block', async () => {
    const res = await vfetch(`ipfs://${frameCid}`, { headers: { accept: 'application/vnd.ipld.raw' } })
    assert.equal(res.status, 200)
    const bytes = new Uint8Array(await res.arrayBuffer())
    assert.deepEqual(new Uint8Array(createHash('sha256').update(bytes).digest()), CID.parse(frameCid).multihash.digest)
    const value = dagCbor.decode(bytes) as { id: string, title: string }
    assert.equal(value.id, 'interop/frame')
    assert.equal(value.title, 'interop')
  })

  test('verified-fetch reads an attachment (UnixFS) through the gateway', async () => {
    const res = await vfetch(`ipfs://${fileCid}`)
    assert.equal(res.status, 200)
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), fileBytes)
  })

  test('verified-fetch builds a verified CAR of a commit; the gateway\'s own CAR has the same blocks', async () => {
    const res = await vfetch(`ipfs://${commitCid}`, { headers: { accept: 'application/vnd.ipld.car' } })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/vnd\.ipld\.car/)
    const theirs = await carBlocks(new Uint8Array(await res.arrayBuffer()))
    const ours = await carBlocks(new Uint8Array(await (await fetch(`${base}/ipfs/${commitCid}?format=car`, { headers: { accept: 'application/vnd.ipld.car' } })).arrayBuffer()))
    assert.deepEqual(ours.roots, [commitCid])
    // Same set of blocks (verified-fetch may repeat a block that two parents link: dups=y).
    assert.deepEqual([...new Set(theirs.blocks)].sort(), [...ours.blocks].sort())
    assert.ok(ours.blocks.includes(frameCid) && ours.blocks.includes(fileCid))
  })

  test('pinning-service-client: add, get, list, replace, delete', async () => {
    const client = new RemotePinningServiceClient(new Configuration({ endpointUrl: base, accessToken: node.repo.config.apiToken }))
    const added = await client.pinsPost({ pin: { cid: commitCid, name: 'snapshot', meta: { app: 'interop' } } })
    assert.ok(['queued', 'pinning', 'pinned'].includes(added.status))
    await app.framehub.pins.idle()
    const got = await client.pinsRequestidGet({ requestid: added.requestid })
    assert.equal(got.status, Status.Pinned)
    assert.equal(got.pin.cid, commitCid)
    assert.ok(got.created instanceof Date)
    const listed = await client.pinsGet({ cid: [commitCid], status: [Status.Pinned], meta: { app: 'interop' }, limit: 5 })
    assert.equal(listed.count, 1)
    assert.equal(listed.results.values().next().value?.requestid, added.requestid)
    const none = await client.pinsGet({ meta: { app: 'other' } })
    assert.equal(none.count, 0)
    const replaced = await client.pinsRequestidPost({ requestid: added.requestid, pin: { cid: frameCid, name: 'frame' } })
    assert.notEqual(replaced.requestid, added.requestid)
    await app.framehub.pins.idle()
    await client.pinsRequestidDelete({ requestid: replaced.requestid })
    // The generated client throws the Response of a failed request.
    const gone = await client.pinsRequestidGet({ requestid: replaced.requestid }).then(() => undefined, (err: Response) => err)
    assert.equal(gone?.status, 404)
    assert.equal(((await gone?.json()) as { error: { reason: string } }).error.reason, 'NOT_FOUND')
    const unauthorized = new RemotePinningServiceClient(new Configuration({ endpointUrl: base, accessToken: 'wrong' }))
    const denied = await unauthorized.pinsGet({}).then(() => undefined, (err: Response) => err)
    assert.equal(denied?.status, 401)
    assert.equal(((await denied?.json()) as { error: { reason: string } }).error.reason, 'UNAUTHORIZED')
  })

  test('no client contacted anything but the gateway on loopback', () => {
    assert.ok(requested.length > 0)
    for (const url of requested) assert.ok(url.startsWith(base), url)
  })
})
