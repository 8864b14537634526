import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import type { LightMyRequestResponse } from 'fastify'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

const MISSING = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

interface PinStatus { requestid: string, status: string, created: string, pin: { cid: string, name?: string, meta?: Record<string, string> }, delegates: string[], info?: Record<string, string> }

describe('/pins and /api/v1/snapshots', () => {
  let h: Harness
  let other: Harness
  let cid: string
  before(async () => {
    h = await harness({ carImportLimit: 64 * 1024 })
    other = await harness({ carImportLimit: 64 * 1024 })
    cid = (await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('p/one') })).json().cid
  })
  after(async () => {
    await h.close()
    await other.close()
  })

  const settle = async (requestid: string): Promise<PinStatus> => {
    await h.app.framehub.pins.idle()
    const res = await h.authed({ url: `/pins/${requestid}` })
    assert.equal(res.statusCode, 200, res.body)
    return res.json()
  }

  test('add, get, list with filters, replace, delete', async () => {
    const add = await h.authed({ method: 'POST', url: '/pins', payload: { cid, name: 'First Pin', meta: { app: 'x' } } })
    assert.equal(add.statusCode, 202, add.body)
    const status = add.json() as PinStatus
    assert.ok(['queued', 'pinning', 'pinned'].includes(status.status))
    assert.deepEqual(status.delegates, [`/p2p/${h.node.peerId}`])
    assert.equal((await settle(status.requestid)).status, 'pinned')
    assert.equal(await (await h.node.repo.helia()).pins.isPinned((await import('multiformats/cid')).CID.parse(cid)), true)

    const failed = (await h.authed({ method: 'POST', url: '/pins', payload: { cid: MISSING, name: 'missing' } })).json() as PinStatus
    const settled = await settle(failed.requestid)
    assert.equal(settled.status, 'failed')
    assert.match(settled.info?.status_details ?? '', /ERR_BLOCK_NOT_FOUND/)

    const list = async (q: string): Promise<{ count: number, results: PinStatus[] }> => {
      const res = await h.authed({ url: `/pins${q}` })
      assert.equal(res.statusCode, 200, res.body)
      return res.json()
    }
    assert.deepEqual((await list('')).results.map(r => r.requestid), [status.requestid])
    assert.equal((await list('?status=pinned,failed')).count, 2)
    assert.equal((await list('?status=pinned,failed&limit=1')).results.length, 1)
    assert.equal((await list('?status=pinned,failed')).results[0]?.requestid, failed.requestid, 'newest first')
    assert.equal((await list(`?cid=${cid}`)).count, 1)
    assert.equal((await list('?name=first%20pin')).count, 0)
    assert.equal((await list('?name=first%20pin&match=iexact')).count, 1)
    assert.equal((await list('?name=Pin&match=partial')).count, 1)
    assert.equal((await list(`?meta=${encodeURIComponent('{"app":"x"}')}`)).count, 1)
    assert.equal((await list(`?meta=${encodeURIComponent('{"app":"y"}')}`)).count, 0)
    assert.equal((await list(`?before=${encodeURIComponent(status.created)}`)).count, 0)
    assert.equal((await list(`?status=failed&after=${encodeURIComponent(status.created)}`)).count, 1)

    const replaced = await h.authed({ method: 'POST', url: `/pins/${status.requestid}`, payload: { cid, name: 'renamed' } })
    assert.equal(replaced.statusCode, 202)
    const next = replaced.json() as PinStatus
    assert.notEqual(next.requestid, status.requestid)
    assert.equal((await settle(next.requestid)).status, 'pinned')
    assert.equal((await h.authed({ url: `/pins/${status.requestid}` })).statusCode, 404)
    assert.equal(await (await h.node.repo.helia()).pins.isPinned((await import('multiformats/cid')).CID.parse(cid)), true, 'still pinned by the new request')

    const del = await h.authed({ method: 'DELETE', url: `/pins/${next.requestid}` })
    assert.equal(del.statusCode, 202)
    await h.app.framehub.pins.idle()
    assert.equal(await (await h.node.repo.helia()).pins.isPinned((await import('multiformats/cid')).CID.parse(cid)), false)
  })

  test('pins: auth and bad input use the spec\'s Failure body', async () => {
    const failure = (res: { statusCode: number, json: () => unknown }): { reason: string, details: string } => {
      const body = res.json() as { error?: { reason?: unknown, details?: unknown } }
      assert.equal(typeof body.error?.reason, 'string')
      return body.error as { reason: string, details: string }
    }
    const none = await h.app.inject({ url: '/pins' })
    assert.equal(none.statusCode, 401)
    assert.equal(failure(none).reason, 'UNAUTHORIZED')
    const bad = await h.app.inject({ url: '/pins', headers: { authorization: 'Bearer wrong' } })
    assert.equal(bad.statusCode, 401)
    const cases: Array<[string, string, unknown]> = [
      ['POST', '/pins', { name: 'no cid' }],
      ['POST', '/pins', { cid: 'not-a-cid' }],
      ['POST', '/pins', { cid, extra: 1 }],
      ['POST', '/pins', { cid, meta: { a: 1 } }],
      ['POST', '/pins', { cid, name: 'x'.repeat(300) }],
      ['GET', '/pins?limit=0', undefined],
      ['GET', '/pins?status=done', undefined],
      ['GET', '/pins?cid=nope', undefined],
      ['GET', '/pins?meta=notjson', undefined],
      ['GET', '/pins?before=yesterday', undefined],
      ['GET', '/pins?match=fuzzy', undefined]
    ]
    for (const [method, url, payload] of cases) {
      const res = await h.authed({ method: method as 'GET', url, payload: payload as Record<string, unknown> })
      assert.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(payload)} ${res.body}`)
      assert.equal(failure(res).reason, 'BAD_REQUEST')
    }
    const malformed = await h.authed({ method: 'POST', url: '/pins', payload: '{"cid":', headers: { 'content-type': 'application/json' } })
    assert.equal(malformed.statusCode, 400)
    assert.match(failure(malformed).details, /^ERR_JSON_INVALID/)
    for (const method of ['GET', 'POST', 'DELETE'] as const) {
      const res = await h.authed({ method, url: '/pins/unknown-id', payload: method === 'POST' ? { cid } : undefined })
      assert.equal(res.statusCode, 404, method)
      assert.equal(failure(res).reason, 'NOT_FOUND')
    }
    const route = await h.authed({ url: '/pins/a/b' })
    assert.equal(route.statusCode, 404)
    assert.equal(failure(route).reason, 'NOT_FOUND')
  })

  test('snapshot export streams a CAR that another node imports to the same root', async () => {
    assert.equal((await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('p/snap') })).statusCode, 201)
    const commit = (await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: 'snap' } })).json().commit as string
    const exported = await h.app.inject({ url: '/api/v1/snapshots/main' })
    assert.equal(exported.statusCode, 200)
    assert.match(String(exported.headers['content-type']), /^application\/vnd\.ipld\.car; version=1/)
    assert.equal(exported.headers['x-ipfs-roots'], commit)
    const byCid = await h.app.inject({ url: `/api/v1/snapshots/${commit}` })
    assert.deepEqual(byCid.rawPayload, exported.rawPayload)

    const imported = await other.authed({ method: 'POST', url: '/api/v1/snapshots', payload: exported.rawPayload, headers: { 'content-type': 'application/vnd.ipld.car' } })
    assert.equal(imported.statusCode, 201, imported.body)
    assert.equal(imported.json().root, commit)
    const verify = await other.app.inject({ url: `/api/v1/verify?ref=${commit}` })
    assert.equal(verify.json().ok, true)
    const reexport = await other.app.inject({ url: `/api/v1/snapshots/${commit}` })
    assert.deepEqual(reexport.rawPayload, exported.rawPayload, 'bit for bit')
  })

  test('snapshot bad input: auth, not a CAR, truncated, too large, wrong media type, unknown root', async () => {
    const car = (await h.app.inject({ url: '/api/v1/snapshots/main' })).rawPayload
    const post = async (payload: Buffer, headers: Record<string, string> = { 'content-type': 'application/vnd.ipld.car' }): Promise<{ status: number, code: string }> => {
      const res = await other.authed({ method: 'POST', url: '/api/v1/snapshots', payload, headers })
      return { status: res.statusCode, code: errorBody(res).code }
    }
    const noAuth = await other.app.inject({ method: 'POST', url: '/api/v1/snapshots', payload: car, headers: { 'content-type': 'application/vnd.ipld.car' } })
    assert.equal(noAuth.statusCode, 401)
    assert.deepEqual(await post(Buffer.from('not a car at all')), { status: 400, code: 'ERR_CAR_INVALID' })
    const truncated = await post(car.subarray(0, car.length - 20))
    assert.ok(truncated.status >= 400 && truncated.status < 500)
    assert.match(truncated.code, /^ERR_(CAR_INVALID|DAG_INCOMPLETE)$/)
    assert.deepEqual(await post(Buffer.alloc(100 * 1024)), { status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' })
    assert.deepEqual(await post(car, { 'content-type': 'application/json' }), { status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' })
    const unknown = await h.app.inject({ url: `/api/v1/snapshots/${MISSING}` })
    assert.equal(unknown.statusCode, 404)
    assert.equal((await h.app.inject({ url: '/api/v1/snapshots/no-such-branch' })).statusCode, 404)
  })

  test('snapshot import of a CAR whose header has no version, an unknown one, or junk after it: 400 ERR_CAR_INVALID, answered', async () => {
    // Over a real connection: a reply that never comes (the upload left half-read) fails the fetch.
    await other.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = other.app.server.address() as { port: number }
    const section = (value: unknown, tail: Uint8Array = new Uint8Array(0)): Buffer => {
      const bytes = dagCbor.encode(value)
      const length = new Uint8Array(varint.encodingLength(bytes.length))
      varint.encodeTo(bytes.length, length, 0)
      return Buffer.concat([length, bytes, tail])
    }
    const blockBytes = Buffer.alloc(40 * 1024, 7)
    const cases: Array<[string, Buffer, RegExp]> = [
      ['no version', section({ roots: [] }, blockBytes), /no version/],
      ['version 3', section({ version: 3, roots: [] }, blockBytes), /version 3/],
      ['version "1"', section({ version: '1', roots: [] }), /version "1"/],
      ['not a map', section([1, 2, 3]), /not a map/],
      ['junk after a v1 header', section({ version: 1, roots: [] }, Buffer.from('junk'.repeat(100))), /./],
      ['a v2 pragma and junk', section({ version: 2 }, Buffer.from('junk'.repeat(100))), /./],
      ['junk', Buffer.from('junk'), /./]
    ]
    for (const [name, body, message] of cases) {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/snapshots`, { method: 'POST', body, headers: { ...other.auth, 'content-type': 'application/vnd.ipld.car' } })
      const json = await res.json() as { code: string, message: string }
      assert.equal(res.status, 400, `${name}: ${JSON.stringify(json)}`)
      assert.equal(json.code, 'ERR_CAR_INVALID', name)
      assert.match(json.message, message, name)
    }
  })

  test('snapshot import: a client\'s corrupt block is 400 ERR_CAR_INVALID naming the block; ?branch= puts a new branch on the imported commit', async () => {
    assert.equal((await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('p/imported') })).statusCode, 201)
    const committed = await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: 'for import' } })
    assert.equal(committed.statusCode, 201, committed.body)
    const commit = committed.json().commit as string
    const car = (await h.app.inject({ url: `/api/v1/snapshots/${commit}` })).rawPayload
    const post = async (payload: Buffer, query = ''): Promise<LightMyRequestResponse> =>
      await other.authed({ method: 'POST', url: `/api/v1/snapshots${query}`, payload, headers: { 'content-type': 'application/vnd.ipld.car' } })

    // Flip a byte in the last block's data: its hash no longer matches the CID that precedes it.
    const forged = Buffer.from(car)
    forged[forged.length - 3] = (forged[forged.length - 3] as number) ^ 0xff
    const bad = await post(forged)
    assert.equal(bad.statusCode, 400, bad.body)
    const body = bad.json() as { code: string, message: string, details?: { cid?: string } }
    assert.equal(body.code, 'ERR_CAR_INVALID')
    assert.match(body.message, /does not match its CID/)
    assert.match(body.details?.cid ?? '', /^baf/)
    assert.equal((await other.app.inject({ url: `/api/v1/snapshots/${commit}` })).statusCode, 404, 'nothing became visible')

    const made = await post(car, '?branch=restored')
    assert.equal(made.statusCode, 201, made.body)
    assert.deepEqual(made.json(), { root: commit, blocks: made.json().blocks, bytes: made.json().bytes, branch: 'restored' })
    const log = await other.app.inject({ url: '/api/v1/commits?ref=restored' })
    assert.equal(log.statusCode, 200, log.body)
    assert.equal(JSON.stringify(log.json()).includes(commit), true)
    const again = await post(car, '?branch=restored')
    assert.equal(again.statusCode, 409)
    assert.equal(errorBody(again).code, 'ERR_REF_EXISTS')
    assert.equal(errorBody(await post(car, '?branch=a..b')).code, 'ERR_REF_INVALID')
    const shown = (await h.app.inject({ url: `/api/v1/commits/${commit}` })).json() as { value: { tree: string | { '/': string } } }
    const tree = typeof shown.value.tree === 'string' ? shown.value.tree : shown.value.tree['/']
    const treeCar = (await h.app.inject({ url: `/api/v1/snapshots/${tree}` })).rawPayload
    const notCommit = await post(treeCar, '?branch=tree')
    assert.equal(notCommit.statusCode, 400)
    assert.equal(errorBody(notCommit).code, 'ERR_USAGE')
    const plain = await post(car)
    assert.equal(plain.statusCode, 201)
    assert.deepEqual(Object.keys(plain.json()).sort(), ['blocks', 'bytes', 'root'])
  })
})
