import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

const ALL = 'gzip, deflate, br, zstd'

describe('compressed JSON answers under /api/v1, and nothing else', () => {
  let h: Harness
  let attachment: string
  let frameCid: string
  before(async () => {
    h = await harness()
    for (let i = 0; i < 40; i++) {
      const put = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(`facts/${i}`, { title: `a fact long enough to make a page of JSON over one kilobyte, number ${i}` }) })
      frameCid = (put.json() as { cid: string }).cid
      assert.equal((await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: `add ${i}` } })).statusCode, 201)
    }
    const text = 'a text attachment that compresses well. '.repeat(200)
    const up = await h.authed({ method: 'POST', url: '/api/v1/attachments?name=note.txt', payload: text, headers: { 'content-type': 'text/plain' } })
    assert.equal(up.statusCode, 201, up.body)
    attachment = (up.json() as { cid: string }).cid
  })
  after(async () => { await h.close() })

  test('a JSON page: brotli or gzip as asked, the same JSON once inflated; identity without Accept-Encoding', async () => {
    const plain = await h.app.inject({ url: '/api/v1/commit-graph?limit=1000' })
    assert.equal(plain.statusCode, 200)
    assert.equal(plain.headers['content-encoding'], undefined)
    assert.ok(plain.rawPayload.length > 1024)
    const br = await h.app.inject({ url: '/api/v1/commit-graph?limit=1000', headers: { 'accept-encoding': ALL } })
    assert.equal(br.headers['content-encoding'], 'br')
    assert.match(String(br.headers.vary), /accept-encoding/i)
    assert.ok(br.rawPayload.length < plain.rawPayload.length / 2, `${br.rawPayload.length} of ${plain.rawPayload.length}`)
    assert.deepEqual(JSON.parse(brotliDecompressSync(br.rawPayload).toString()), plain.json())
    const gz = await h.app.inject({ url: '/api/v1/frames?limit=100', headers: { 'accept-encoding': 'gzip' } })
    assert.equal(gz.headers['content-encoding'], 'gzip')
    assert.deepEqual(JSON.parse(gunzipSync(gz.rawPayload).toString()), (await h.app.inject({ url: '/api/v1/frames?limit=100' })).json())
    const refused = await h.app.inject({ url: '/api/v1/commit-graph?limit=1000', headers: { 'accept-encoding': 'identity' } })
    assert.equal(refused.headers['content-encoding'], undefined)
  })

  test('small answers and errors under 1 kB stay as they are', async () => {
    const small = await h.app.inject({ url: '/api/v1/branches', headers: { 'accept-encoding': ALL } })
    assert.equal(small.statusCode, 200)
    assert.equal(small.headers['content-encoding'], undefined)
    const bad = await h.app.inject({ url: '/api/v1/commit-graph?limit=0', headers: { 'accept-encoding': ALL } })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.headers['content-encoding'], undefined)
    assert.equal(bad.json().code, 'ERR_VALIDATION')
  })

  test('stored bytes are sent as they are: attachments (with their ranges), CAR snapshots, frame reads (ETag = CID), blocks under /ipfs', async () => {
    for (const headers of [{ 'accept-encoding': ALL }, { 'accept-encoding': ALL, range: 'bytes=0-99' }]) {
      const res = await h.app.inject({ url: `/api/v1/attachments/${attachment}`, headers })
      assert.ok(res.statusCode === 200 || res.statusCode === 206, res.body)
      assert.equal(res.headers['content-encoding'], undefined)
      assert.match(res.body, /^a text attachment/)
    }
    const car = await h.app.inject({ url: '/api/v1/snapshots/main', headers: { 'accept-encoding': ALL } })
    assert.equal(car.statusCode, 200)
    assert.equal(car.headers['content-encoding'], undefined)
    const record = await h.app.inject({ url: `/api/v1/frames/${frameCid}`, headers: { 'accept-encoding': ALL } })
    assert.equal(record.statusCode, 200)
    assert.equal(record.headers['content-encoding'], undefined)
    for (const url of [`/ipfs/${attachment}?format=car`, `/ipfs/${attachment}?format=raw`]) {
      const res = await h.app.inject({ url, headers: { 'accept-encoding': ALL } })
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
      assert.equal(res.headers['content-encoding'], undefined, url)
    }
  })
})
