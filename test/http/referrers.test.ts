import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

describe('GET /api/v1/referrers: frames that link to a CID', () => {
  let h: Harness
  const cids: Record<string, string> = {}
  before(async () => {
    h = await harness()
    const put = async (id: string, extra: Record<string, unknown> = {}): Promise<void> => {
      const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(id, extra) })
      assert.equal(res.statusCode, 201, res.body)
      cids[id] = res.json().cid
    }
    await put('a')
    await put('b')
    await put('x/1', { links: [{ cid: { '/': cids.a }, rel: 'cites' }] })
    await put('x/2', { links: [{ cid: { '/': cids.a } }, { cid: { '/': cids.b }, rel: 'refutes' }] })
    await put('x/3')
  })
  after(async () => { await h.close() })

  test('every frame of the tree that links to one of the CIDs, with the relation', async () => {
    const res = await h.app.inject({ url: `/api/v1/referrers?to=${cids.a as string}` })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json()
    assert.deepEqual(body.referrers, [{ id: 'x/1', cid: cids['x/1'], to: cids.a, rel: 'cites' }, { id: 'x/2', cid: cids['x/2'], to: cids.a }])
    assert.equal(body.complete, true)
    assert.equal(body.scanned, 5)
    const both = (await h.app.inject({ url: `/api/v1/referrers?to=${cids.a as string}&to=${cids.b as string}` })).json()
    assert.deepEqual(both.referrers.map((r: { id: string, to: string }) => `${r.id}>${r.to === cids.a ? 'a' : 'b'}`), ['x/1>a', 'x/2>a', 'x/2>b'])
    const none = (await h.app.inject({ url: `/api/v1/referrers?to=${cids['x/3'] as string}` })).json()
    assert.deepEqual(none.referrers, [])
  })

  test('scan and limit bound the work; complete says the tree was not all read', async () => {
    const scanned = (await h.app.inject({ url: `/api/v1/referrers?to=${cids.a as string}&scan=3` })).json()
    assert.equal(scanned.scanned, 3)
    assert.equal(scanned.complete, false)
    assert.deepEqual(scanned.referrers.map((r: { id: string }) => r.id), ['x/1'])
    const limited = (await h.app.inject({ url: `/api/v1/referrers?to=${cids.a as string}&limit=1` })).json()
    assert.equal(limited.referrers.length, 1)
    assert.equal(limited.complete, false)
  })

  test('bad input: a clear code', async () => {
    const cases: Array<[string, number, string]> = [
      ['/api/v1/referrers', 400, 'ERR_VALIDATION'],
      ['/api/v1/referrers?to=nope', 400, 'ERR_CID_INVALID'],
      [`/api/v1/referrers?to=${cids.a as string}&limit=0`, 400, 'ERR_VALIDATION'],
      [`/api/v1/referrers?to=${cids.a as string}&scan=x`, 400, 'ERR_VALIDATION'],
      [`/api/v1/referrers?to=${cids.a as string}&other=1`, 400, 'ERR_VALIDATION'],
      [`/api/v1/referrers?to=${cids.a as string}&ref=nope`, 404, 'ERR_REF_NOT_FOUND'],
      [`/api/v1/referrers?${Array.from({ length: 65 }, () => `to=${cids.a as string}`).join('&')}`, 400, 'ERR_VALIDATION']
    ]
    for (const [url, status, code] of cases) {
      const res = await h.app.inject({ url })
      assert.equal(res.statusCode, status, `${url}: ${res.body}`)
      assert.equal(errorBody(res).code, code, url)
    }
  })
})
