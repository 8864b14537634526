import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

interface FrameRecordView { id: string, cid: string, frame: Record<string, unknown> }
interface FrameListView { tree: string, frames: FrameRecordView[], cursor: string | null, scanned: number }

describe('/api/v1/frames', () => {
  let h: Harness
  before(async () => { h = await harness({ bodyLimit: 64 * 1024 }) })
  after(async () => { await h.close() })

  let gravity: FrameRecordView

  test('POST stores and stages a frame; GET by CID and by id return it', async () => {
    const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('physics/gravity', { tags: ['b', 'a', 'b'], title: 'Gravity' }) })
    assert.equal(res.statusCode, 201)
    gravity = res.json()
    assert.equal(gravity.id, 'physics/gravity')
    assert.deepEqual(gravity.frame.tags, ['a', 'b'])
    assert.equal(res.headers.location, `/api/v1/frames/${gravity.cid}`)

    const byCid = await h.app.inject({ url: `/api/v1/frames/${gravity.cid}` })
    assert.equal(byCid.statusCode, 200)
    assert.deepEqual(byCid.json(), gravity)

    const byId = await h.app.inject({ url: '/api/v1/frames/by-id/physics/gravity' })
    assert.equal(byId.statusCode, 200)
    assert.deepEqual(byId.json(), gravity)
  })

  test('a frame with links and the same content twice gets the same CID', async () => {
    const a = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('physics/apple', { links: [{ cid: { '/': gravity.cid }, rel: 'cites' }] }) })
    assert.equal(a.statusCode, 201)
    const b = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('physics/apple', { links: [{ cid: { '/': gravity.cid }, rel: 'cites' }] }) })
    assert.equal(b.json().cid, a.json().cid)
  })

  test('GET by id at a ref: a commit sees its own version', async () => {
    const commit = await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: 'first' } })
    assert.equal(commit.statusCode, 201)
    const head = commit.json().commit as string
    await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('physics/gravity', { title: 'Gravity, revised' }) })
    const atHead = await h.app.inject({ url: `/api/v1/frames/by-id/physics/gravity?ref=${head}` })
    assert.equal(atHead.json().frame.title, 'Gravity')
    const atMain = await h.app.inject({ url: '/api/v1/frames/by-id/physics/gravity?ref=main' })
    assert.equal(atMain.json().frame.title, 'Gravity')
    const working = await h.app.inject({ url: '/api/v1/frames/by-id/physics/gravity' })
    assert.equal(working.json().frame.title, 'Gravity, revised')
  })

  test('list filters by kind, tag, prefix and text, and pages with a cursor', async () => {
    for (let i = 0; i < 7; i++) {
      const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(`notes/n${i}`, { kind: i % 2 === 0 ? 'note' : 'plan', tags: [`t${i % 3}`], body: { text: i === 5 ? 'The Needle is here' : 'hay' } }) })
      assert.equal(res.statusCode, 201)
    }
    const kinds = await h.app.inject({ url: '/api/v1/frames?kind=plan&prefix=notes/&limit=100' })
    const all: FrameRecordView[] = []
    let page: FrameListView = kinds.json()
    all.push(...page.frames)
    // Follow the cursor to the last page.
    while (page.cursor != null) {
      const next = await h.app.inject({ url: `/api/v1/frames?kind=plan&prefix=notes/&cursor=${page.cursor}` })
      assert.equal(next.statusCode, 200)
      page = next.json()
      all.push(...page.frames)
    }
    assert.deepEqual(all.map(f => f.id), ['notes/n1', 'notes/n3', 'notes/n5'])

    const collect = async (query: string): Promise<string[]> => {
      const ids: string[] = []
      let cursor: string | null = null
      for (let pages = 0; pages < 20; pages++) {
        const res: LightMyRequestResponse = await h.app.inject({ url: `/api/v1/frames?${query}${cursor != null ? `&cursor=${cursor}` : ''}` })
        assert.equal(res.statusCode, 200)
        const body = res.json() as FrameListView
        assert.ok(body.scanned <= 5)
        ids.push(...body.frames.map(f => f.id))
        cursor = body.cursor
        if (cursor == null) break
      }
      return ids
    }
    assert.deepEqual(await collect('tag=t0&prefix=notes/'), ['notes/n0', 'notes/n3', 'notes/n6'])
    assert.deepEqual(await collect('q=needle&prefix=notes/'), ['notes/n5'])
    assert.deepEqual(await collect('q=GRAVITY'), ['physics/gravity'])

    const paged: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await h.app.inject({ url: `/api/v1/frames?limit=2${cursor != null ? `&cursor=${cursor}` : ''}` })
      const body = res.json() as FrameListView
      paged.push(...body.frames.map(f => f.id))
      cursor = body.cursor
      pages++
    } while (cursor != null && pages < 20)
    assert.deepEqual(paged, [...paged].sort())
    assert.equal(paged.length, 9)
  })

  test('DELETE stages the removal of an id', async () => {
    const res = await h.authed({ method: 'DELETE', url: '/api/v1/frames/by-id/notes/n6' })
    assert.equal(res.statusCode, 200)
    const gone = await h.app.inject({ url: '/api/v1/frames/by-id/notes/n6' })
    assert.equal(gone.statusCode, 404)
    assert.equal(errorBody(gone).code, 'ERR_FRAME_NOT_FOUND')
    const again = await h.authed({ method: 'DELETE', url: '/api/v1/frames/by-id/notes/n6' })
    assert.equal(again.statusCode, 404)
  })

  describe('bad input', () => {
    const post = async (payload: unknown, headers: Record<string, string> = {}): Promise<{ status: number, code: string }> => {
      const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: payload as string, headers: { 'content-type': 'application/json', ...headers } })
      return { status: res.statusCode, code: errorBody(res).code }
    }

    test('malformed JSON', async () => {
      assert.deepEqual(await post('{"id": "x", '), { status: 400, code: 'ERR_JSON_INVALID' })
      assert.deepEqual(await post(''), { status: 400, code: 'ERR_JSON_INVALID' })
      assert.deepEqual(await post('{"__proto__": {"x": 1}, "id": "a", "kind": "b"}'), { status: 400, code: 'ERR_JSON_INVALID' })
    })

    test('wrong types, missing and unknown fields', async () => {
      assert.deepEqual(await post(JSON.stringify({ id: 5, kind: 'fact' })), { status: 400, code: 'ERR_FRAME_INVALID' })
      assert.deepEqual(await post(JSON.stringify({ id: 'x', kind: 'fact', tags: 'a' })), { status: 400, code: 'ERR_FRAME_INVALID' })
      assert.deepEqual(await post(JSON.stringify({ id: 'x' })), { status: 400, code: 'ERR_FRAME_INVALID' })
      assert.deepEqual(await post(JSON.stringify({ id: 'x', kind: 'fact', author: 'me' })), { status: 400, code: 'ERR_FRAME_INVALID' })
      assert.deepEqual(await post(JSON.stringify({ id: 'has space', kind: 'fact' })), { status: 400, code: 'ERR_FRAME_INVALID' })
      assert.deepEqual(await post(JSON.stringify([1, 2])), { status: 400, code: 'ERR_FRAME_INVALID' })
      assert.deepEqual(await post(JSON.stringify({ id: 'x', kind: 'fact', links: [{ cid: { '/': 'not-a-cid' } }] })), { status: 400, code: 'ERR_FRAME_INVALID' })
    })

    test('a link to a block this node does not have', async () => {
      const missing = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
      assert.deepEqual(await post(JSON.stringify({ id: 'x', kind: 'fact', links: [{ cid: { '/': missing } }] })), { status: 422, code: 'ERR_LINK_UNRESOLVED' })
    })

    test('oversized body and wrong media type', async () => {
      const big = JSON.stringify(frame('big', { body: 'x'.repeat(100 * 1024) }))
      assert.deepEqual(await post(big), { status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' })
      assert.deepEqual(await post('id=x', { 'content-type': 'application/x-www-form-urlencoded' }), { status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' })
    })

    test('missing or bad auth', async () => {
      const none = await h.app.inject({ method: 'POST', url: '/api/v1/frames', payload: frame('x') })
      assert.equal(none.statusCode, 401)
      assert.equal(errorBody(none).code, 'ERR_UNAUTHORIZED')
      assert.equal(none.headers['www-authenticate'], 'Bearer')
      const bad = await h.app.inject({ method: 'POST', url: '/api/v1/frames', payload: frame('x'), headers: { authorization: 'Bearer nope' } })
      assert.equal(bad.statusCode, 401)
      const basic = await h.app.inject({ method: 'POST', url: '/api/v1/frames', payload: frame('x'), headers: { authorization: `Basic ${h.token}` } })
      assert.equal(basic.statusCode, 401)
      const del = await h.app.inject({ method: 'DELETE', url: '/api/v1/frames/by-id/physics/gravity' })
      assert.equal(del.statusCode, 401)
    })

    test('bad CIDs, unknown ids, bad query parameters', async () => {
      const badCid = await h.app.inject({ url: '/api/v1/frames/not-a-cid' })
      assert.equal(badCid.statusCode, 400)
      assert.equal(errorBody(badCid).code, 'ERR_CID_INVALID')
      const unknown = await h.app.inject({ url: '/api/v1/frames/bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' })
      assert.equal(unknown.statusCode, 404)
      assert.equal(errorBody(unknown).code, 'ERR_BLOCK_NOT_FOUND')
      const notFrame = await h.app.inject({ url: `/api/v1/frames/${(await h.app.inject({ url: '/api/v1/frames' })).json().tree as string}` })
      // A block that is something else is no frame: 404, saying what it is.
      assert.equal(notFrame.statusCode, 404)
      assert.equal(errorBody(notFrame).code, 'ERR_FRAME_NOT_FOUND')
      assert.match(errorBody(notFrame).message, /is a tree node, not a frame; use `framehub show /)
      const noId = await h.app.inject({ url: '/api/v1/frames/by-id/no/such/frame' })
      assert.equal(noId.statusCode, 404)
      const badRef = await h.app.inject({ url: '/api/v1/frames/by-id/physics/gravity?ref=nope' })
      assert.equal(badRef.statusCode, 404)
      assert.equal(errorBody(badRef).code, 'ERR_REF_NOT_FOUND')
      for (const q of ['limit=0', 'limit=abc', 'limit=5000', 'unknown=1', 'cursor=garbage', `cursor=${Buffer.from('{"t":"x","a":"y"}').toString('base64url')}`]) {
        const res = await h.app.inject({ url: `/api/v1/frames?${q}` })
        assert.equal(res.statusCode, 400, q)
        assert.match(errorBody(res).code, /^ERR_(VALIDATION|CID_INVALID)$/, q)
      }
    })
  })
})
