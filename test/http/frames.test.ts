import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { MAX_BLOCK_BYTES } from '../../src/core/block.ts'
import { MAX_JSON_TEXT_BYTES } from '../../src/core/json-view.ts'
import { frameOfSize, nested } from '../helpers/frames.ts'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

interface FrameRecordView { id: string, cid: string, frame: Record<string, unknown> }
interface FrameListView { tree: string, frames: FrameRecordView[], cursor: string | null, scanned: number }

/** A harness of one test's own, with the small body limit of these tests; closed when the test ends. */
async function harnessFor (t: TestContext): Promise<Harness> {
  const h = await harness({ bodyLimit: 64 * 1024 })
  t.after(async () => { await h.close() })
  return h
}

/** POSTs a frame, asserts 201 and returns its record. */
async function put (h: Harness, payload: Record<string, unknown>): Promise<FrameRecordView> {
  const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload })
  assert.equal(res.statusCode, 201, res.body)
  return res.json()
}

// What a test starts from, as the tests before it would leave the working tree.
const gravityFrame = frame('physics/gravity', { tags: ['b', 'a', 'b'], title: 'Gravity' })
const appleFrame = (gravity: FrameRecordView): Record<string, unknown> => frame('physics/apple', { links: [{ cid: { '/': gravity.cid }, rel: 'cites' }] })
const noteFrame = (i: number): Record<string, unknown> => frame(`notes/n${i}`, { kind: i % 2 === 0 ? 'note' : 'plan', tags: [`t${i % 3}`], body: { text: i === 5 ? 'The Needle is here' : 'hay' } })

// Each test has a repository of its own, so that any one runs alone.
describe('/api/v1/frames', () => {
  test('POST stores and stages a frame; GET by CID and by id return it', async (t) => {
    const h = await harnessFor(t)
    const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: gravityFrame })
    assert.equal(res.statusCode, 201)
    const gravity: FrameRecordView = res.json()
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

  test('a frame with links and the same content twice gets the same CID', async (t) => {
    const h = await harnessFor(t)
    const gravity = await put(h, gravityFrame)
    const a = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('physics/apple', { links: [{ cid: { '/': gravity.cid }, rel: 'cites' }] }) })
    assert.equal(a.statusCode, 201)
    const b = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('physics/apple', { links: [{ cid: { '/': gravity.cid }, rel: 'cites' }] }) })
    assert.equal(b.json().cid, a.json().cid)
  })

  test('GET by id at a ref: a commit sees its own version', async (t) => {
    const h = await harnessFor(t)
    await put(h, appleFrame(await put(h, gravityFrame)))
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

  test('list filters by kind, tag, prefix and text, and pages with a cursor', async (t) => {
    const h = await harnessFor(t)
    await put(h, appleFrame(await put(h, gravityFrame)))
    for (let i = 0; i < 7; i++) {
      const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: noteFrame(i) })
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

  test('DELETE stages the removal of an id', async (t) => {
    const h = await harnessFor(t)
    await put(h, noteFrame(6))
    const res = await h.authed({ method: 'DELETE', url: '/api/v1/frames/by-id/notes/n6' })
    assert.equal(res.statusCode, 200)
    const gone = await h.app.inject({ url: '/api/v1/frames/by-id/notes/n6' })
    assert.equal(gone.statusCode, 404)
    assert.equal(errorBody(gone).code, 'ERR_FRAME_NOT_FOUND')
    const again = await h.authed({ method: 'DELETE', url: '/api/v1/frames/by-id/notes/n6' })
    assert.equal(again.statusCode, 404)
  })

  // These tests only read (what they try to write is refused): one repository serves them all.
  describe('bad input', () => {
    let h: Harness
    before(async () => {
      h = await harness({ bodyLimit: 64 * 1024 })
      await put(h, gravityFrame)
    })
    after(async () => { await h?.close() })

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

describe('/api/v1/frames: limits and ids, with the default limits', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })

  const post = async (payload: string): Promise<LightMyRequestResponse> =>
    await h.authed({ method: 'POST', url: '/api/v1/frames', payload, headers: { 'content-type': 'application/json' } })
  const ndjson = async (payload: string): Promise<LightMyRequestResponse> =>
    await h.authed({ method: 'POST', url: '/api/v1/frames/import', payload, headers: { 'content-type': 'application/x-ndjson' } })

  test('a frame of 1 MiB encoded is stored; one byte more is 413 ERR_PAYLOAD_TOO_LARGE, as the CLI says', async () => {
    assert.equal((await post(JSON.stringify(frameOfSize('big/at', MAX_BLOCK_BYTES)))).statusCode, 201)
    const over = await post(JSON.stringify(frameOfSize('big/over', MAX_BLOCK_BYTES + 1)))
    assert.equal(over.statusCode, 413)
    assert.equal(errorBody(over).code, 'ERR_PAYLOAD_TOO_LARGE')
    const line = await ndjson(JSON.stringify(frameOfSize('big/line', MAX_BLOCK_BYTES + 1)) + '\n')
    assert.equal(line.statusCode, 413)
    assert.equal(errorBody(line).code, 'ERR_PAYLOAD_TOO_LARGE')
    // The body limit is the JSON text limit: a body over it is refused before it is parsed.
    const huge = await post(JSON.stringify({ id: 'huge', kind: 'fact', body: 'z'.repeat(MAX_JSON_TEXT_BYTES) }))
    assert.equal(huge.statusCode, 413)
    assert.equal(errorBody(huge).code, 'ERR_PAYLOAD_TOO_LARGE')
  })

  test('100k levels of nesting: 400 ERR_FRAME_INVALID (frames, import) and ERR_TRACE_STEP_INVALID (steps)', async () => {
    const deep = await post(`{"id":"deep","kind":"fact","body":${nested(100_000)}}`)
    assert.equal(deep.statusCode, 400)
    assert.equal(errorBody(deep).code, 'ERR_FRAME_INVALID')
    const line = await ndjson(`{"id":"ok","kind":"fact"}\n{"id":"deep","kind":"fact","body":${nested(100_000)}}\n`)
    assert.equal(line.statusCode, 400)
    assert.equal(errorBody(line).code, 'ERR_FRAME_INVALID')
    assert.match(errorBody(line).message, /:2: frame .*deeper than 128 levels/)
    const step = await h.authed({ method: 'POST', url: '/api/v1/sessions/deep/steps', payload: `{"step":{"op":"thought","content":${nested(100_000)}}}`, headers: { 'content-type': 'application/json' } })
    assert.equal(step.statusCode, 400)
    assert.equal(errorBody(step).code, 'ERR_TRACE_STEP_INVALID')
  })

  test('an import with one id twice is refused whole with the line number (also NFC and NFD)', async () => {
    const dup = await ndjson('{"id":"dup/a","kind":"fact"}\n{"id":"dup/b","kind":"fact"}\n{"id":"dup/a","kind":"note"}\n')
    assert.equal(dup.statusCode, 400)
    const body = dup.json() as { code: string, message: string, details: { line: number } }
    assert.equal(body.code, 'ERR_FRAME_INVALID')
    assert.equal(body.details.line, 3)
    const nfd = await ndjson('{"id":"dup/caf\u00e9","kind":"fact"}\n{"id":"dup/cafe\u0301","kind":"note"}\n')
    assert.equal(nfd.statusCode, 400)
    assert.equal((nfd.json() as { details: { line: number } }).details.line, 2)
    const list = await h.app.inject({ url: '/api/v1/frames?prefix=dup/' })
    assert.deepEqual((list.json() as FrameListView).frames, [], 'nothing of a refused import is staged')
  })

  test('ids are NFC: an NFD id reads and removes the NFC frame; control characters are refused', async () => {
    const put = await post(JSON.stringify({ id: 'ids/cafe\u0301', kind: 'fact' }))
    assert.equal(put.statusCode, 201)
    assert.equal((put.json() as FrameRecordView).id, 'ids/caf\u00e9')
    const got = await h.app.inject({ url: `/api/v1/frames/by-id/${encodeURIComponent('ids/cafe\u0301')}` })
    assert.equal(got.statusCode, 200)
    assert.equal((got.json() as FrameRecordView).cid, (put.json() as FrameRecordView).cid)
    const del = await h.authed({ method: 'DELETE', url: `/api/v1/frames/by-id/${encodeURIComponent('ids/cafe\u0301')}` })
    assert.equal(del.statusCode, 200)
    for (const c of ['\u0001', '\u007f', '\u0085']) {
      const res = await post(JSON.stringify({ id: `ids/a${c}b`, kind: 'fact' }))
      assert.equal(res.statusCode, 400, JSON.stringify(c))
      assert.equal(errorBody(res).code, 'ERR_FRAME_INVALID')
    }
  })
})
