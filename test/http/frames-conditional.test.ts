import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startDaemonProcess } from '../helpers/daemon.ts'
import type { DaemonProcess } from '../helpers/daemon.ts'
import { tempDir } from '../helpers/repo.ts'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

interface FrameRecordView { id: string, cid: string, frame: Record<string, unknown> }

describe('conditional frame writes: ETag, If-Match, If-None-Match', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })

  test('GET by id and by CID send the version\'s CID as a strong ETag; If-None-Match of it is 304', async () => {
    const put = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('etag/a') })
    assert.equal(put.statusCode, 201)
    const { cid } = put.json<FrameRecordView>()
    assert.equal(put.headers.etag, `"${cid}"`)
    const byId = await h.app.inject({ url: '/api/v1/frames/by-id/etag/a' })
    assert.equal(byId.headers.etag, `"${cid}"`)
    const byCid = await h.app.inject({ url: `/api/v1/frames/${cid}` })
    assert.equal(byCid.headers.etag, `"${cid}"`)
    const same = await h.app.inject({ url: '/api/v1/frames/by-id/etag/a', headers: { 'if-none-match': `"${cid}"` } })
    assert.equal(same.statusCode, 304)
    assert.equal(same.body, '')
  })

  test('POST and PUT with If-Match write only the version read; a stale one is 412 ERR_CONFLICT and nothing changes', async () => {
    const v1 = (await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('cond/x', { body: 1 }) })).json<FrameRecordView>()
    const v2res = await h.authed({ method: 'PUT', url: '/api/v1/frames/by-id/cond/x', headers: { 'if-match': `"${v1.cid}"` }, payload: frame('cond/x', { body: 2 }) })
    assert.equal(v2res.statusCode, 200, v2res.body)
    const v2 = v2res.json<FrameRecordView>()
    assert.equal(v2res.headers.etag, `"${v2.cid}"`)

    const stale = await h.authed({ method: 'POST', url: '/api/v1/frames', headers: { 'if-match': `"${v1.cid}"` }, payload: frame('cond/x', { body: 3 }) })
    assert.equal(stale.statusCode, 412)
    const body = errorBody(stale) as { code: string, details?: Record<string, unknown> }
    assert.equal(body.code, 'ERR_CONFLICT')
    assert.deepEqual(body.details, { id: 'cond/x', branch: 'main', expected: v1.cid, current: v2.cid })
    const stalePut = await h.authed({ method: 'PUT', url: '/api/v1/frames/by-id/cond/x', headers: { 'if-match': `"${v1.cid}"` }, payload: frame('cond/x', { body: 3 }) })
    assert.equal(stalePut.statusCode, 412)
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/cond/x' })).json<FrameRecordView>().cid, v2.cid)

    // An unquoted CID is taken too (curl users forget the quotes).
    const bare = await h.authed({ method: 'POST', url: '/api/v1/frames', headers: { 'if-match': v2.cid }, payload: frame('cond/x', { body: 4 }) })
    assert.equal(bare.statusCode, 201, bare.body)
  })

  test('If-None-Match: * creates only', async () => {
    const first = await h.authed({ method: 'PUT', url: '/api/v1/frames/by-id/cond/new', headers: { 'if-none-match': '*' }, payload: frame('cond/new') })
    assert.equal(first.statusCode, 200, first.body)
    const again = await h.authed({ method: 'POST', url: '/api/v1/frames', headers: { 'if-none-match': '*' }, payload: frame('cond/new', { body: 'other' }) })
    assert.equal(again.statusCode, 412)
    assert.equal(errorBody(again).code, 'ERR_CONFLICT')
  })

  test('DELETE with If-Match removes only the version read', async () => {
    const v1 = (await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('cond/del', { body: 1 }) })).json<FrameRecordView>()
    const v2 = (await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('cond/del', { body: 2 }) })).json<FrameRecordView>()
    const stale = await h.authed({ method: 'DELETE', url: '/api/v1/frames/by-id/cond/del', headers: { 'if-match': `"${v1.cid}"` } })
    assert.equal(stale.statusCode, 412)
    const ok = await h.authed({ method: 'DELETE', url: '/api/v1/frames/by-id/cond/del', headers: { 'if-match': `"${v2.cid}"` } })
    assert.equal(ok.statusCode, 200, ok.body)
  })

  test('malformed preconditions are 400 with a code, before anything is written', async () => {
    const v = (await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('cond/bad') })).json<FrameRecordView>()
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'if-match': '"not-a-cid"' }, 'ERR_CID_INVALID'],
      [{ 'if-match': 'bafy' }, 'ERR_CID_INVALID'],
      [{ 'if-match': '""' }, 'ERR_CID_INVALID'],
      [{ 'if-match': `W/"${v.cid}"` }, 'ERR_BAD_REQUEST'],
      [{ 'if-match': `"${v.cid}", "${v.cid}"` }, 'ERR_BAD_REQUEST'],
      [{ 'if-match': '*' }, 'ERR_BAD_REQUEST'],
      [{ 'if-match': `"${v.cid}` }, 'ERR_BAD_REQUEST'],
      [{ 'if-none-match': `"${v.cid}"` }, 'ERR_BAD_REQUEST'],
      [{ 'if-match': `"${v.cid}"`, 'if-none-match': '*' }, 'ERR_BAD_REQUEST']
    ]
    for (const [headers, code] of cases) {
      for (const [method, url] of [['POST', '/api/v1/frames'], ['PUT', '/api/v1/frames/by-id/cond/bad']] as const) {
        const res = await h.authed({ method, url, headers, payload: frame('cond/bad', { body: 'changed' }) })
        assert.equal(res.statusCode, 400, `${method} ${JSON.stringify(headers)}: ${res.body}`)
        assert.equal(errorBody(res).code, code, `${method} ${JSON.stringify(headers)}`)
      }
    }
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/cond/bad' })).json<FrameRecordView>().cid, v.cid, 'nothing was written')
  })

  test('PUT refuses a body whose id is not the id in the path', async () => {
    const res = await h.authed({ method: 'PUT', url: '/api/v1/frames/by-id/cond/one', payload: frame('cond/two') })
    assert.equal(res.statusCode, 400)
    assert.equal(errorBody(res).code, 'ERR_FRAME_INVALID')
  })

  test('the OpenAPI document describes the precondition headers and the 412', async () => {
    const doc = (await h.app.inject({ url: '/docs/json' })).json<{ paths: Record<string, Record<string, { parameters?: Array<{ name: string, in: string }>, responses: Record<string, unknown> }>> }>()
    const post = doc.paths['/api/v1/frames']?.post
    assert.ok(post?.parameters?.some(p => p.in === 'header' && p.name === 'if-match'))
    assert.ok(post?.responses['412'] != null)
  })
})

describe('20 concurrent writers over HTTP against a real daemon', { timeout: 180_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let daemon: DaemonProcess
  let token: string
  before(async () => {
    dir = await tempDir('framehub-race-')
    daemon = await startDaemonProcess(join(dir.dir, 'repo'))
    const config = await daemon.cli(['config', '--json'])
    assert.equal(config.code, 0, config.stderr)
    token = config.json.apiToken
  })
  after(async () => {
    await daemon?.stop()
    await dir?.cleanup()
  })

  const api = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number, etag: string | null, json: any }> => {
    const res = await fetch(`${daemon.info.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined
    })
    const text = await res.text()
    return { status: res.status, etag: res.headers.get('etag'), json: text === '' ? undefined : JSON.parse(text) }
  }

  test('of 20 writers that read the same version exactly one wins, the 19 others get 412 ERR_CONFLICT', async () => {
    assert.equal((await api('POST', '/frames', {}, frame('race/one', { body: { writer: null } }))).status, 201)
    // Every writer reads first (all see the same version), then all write at once.
    const reads = await Promise.all(Array.from({ length: 20 }, async () => await api('GET', '/frames/by-id/race/one')))
    const etags = new Set(reads.map(r => r.etag))
    assert.equal(etags.size, 1)
    const etag = reads[0]?.etag as string
    const writes = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
      await api('PUT', '/frames/by-id/race/one', { 'if-match': etag }, frame('race/one', { body: { writer: i } }))))
    const won = writes.filter(w => w.status === 200)
    const lost = writes.filter(w => w.status === 412)
    assert.equal(won.length, 1, writes.map(w => w.status).join(','))
    assert.equal(lost.length, 19)
    for (const l of lost) assert.equal(l.json.code, 'ERR_CONFLICT')
    const now = await api('GET', '/frames/by-id/race/one')
    assert.equal(now.etag, won[0]?.etag, 'the branch holds the winner')
    assert.deepEqual(now.json.frame.body, won[0]?.json.frame.body)
  })

  test('20 writers that re-read after each refusal lose no update', async () => {
    assert.equal((await api('POST', '/frames', {}, { id: 'race/counter', kind: 'counter', body: { n: 0, by: [] } })).status, 201)
    let refusals = 0
    const writer = async (i: number): Promise<void> => {
      for (;;) {
        const read = await api('GET', '/frames/by-id/race/counter')
        const body = read.json.frame.body as { n: number, by: number[] }
        const w = await api('PUT', '/frames/by-id/race/counter', { 'if-match': read.etag as string }, { id: 'race/counter', kind: 'counter', body: { n: body.n + 1, by: [...body.by, i] } })
        if (w.status === 200) return
        assert.equal(w.status, 412)
        assert.equal(w.json.code, 'ERR_CONFLICT')
        refusals++
      }
    }
    await Promise.all(Array.from({ length: 20 }, async (_, i) => { await writer(i) }))
    const final = (await api('GET', '/frames/by-id/race/counter')).json.frame.body as { n: number, by: number[] }
    assert.equal(final.n, 20)
    assert.deepEqual([...final.by].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), 'every writer\'s update is there')
    assert.ok(refusals > 0, 'the writers did race')
  })
})
