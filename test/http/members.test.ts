import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { errorBody, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

/** The voting members over HTTP: weights in, weights out, bad input refused with a stable code. */
describe('network members over HTTP', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })

  it('adds members with and without a weight, lists them with their weights, removes them', async () => {
    const self = h.node.peerId
    assert.deepEqual((await h.app.inject({ url: '/api/v1/network/members' })).json(), { members: [], weights: {} })
    let res = await h.authed({ method: 'PUT', url: `/api/v1/network/members/${self}` })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json(), { members: [self], weights: { [self]: 1 } })
    res = await h.authed({ method: 'PUT', url: `/api/v1/network/members/${self}`, payload: { weight: 2.5 } })
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json(), { members: [self], weights: { [self]: 2.5 } })
    assert.deepEqual((await h.app.inject({ url: '/api/v1/network/members' })).json(), { members: [self], weights: { [self]: 2.5 } })
    res = await h.authed({ method: 'DELETE', url: `/api/v1/network/members/${self}` })
    assert.deepEqual(res.json(), { members: [], weights: {} })
  })

  it('refuses bad weights, bad bodies and writes without the token', async () => {
    const url = `/api/v1/network/members/${h.node.peerId}`
    for (const payload of [{ weight: -1 }, { weight: 1_000_001 }, { weight: 'heavy' }, { weight: 1, extra: true }]) {
      const res = await h.authed({ method: 'PUT', url, payload })
      assert.equal(res.statusCode, 400, JSON.stringify(payload))
      assert.equal(errorBody(res).code, 'ERR_VALIDATION')
    }
    const notJson = await h.authed({ method: 'PUT', url, payload: '{"weight":', headers: { 'content-type': 'application/json' } })
    assert.equal(notJson.statusCode, 400)
    errorBody(notJson)
    const anonymous = await h.app.inject({ method: 'PUT', url, payload: { weight: 2 } })
    assert.equal(anonymous.statusCode, 401)
    errorBody(anonymous)
    const badPeer = await h.authed({ method: 'PUT', url: '/api/v1/network/members/not-a-peer', payload: { weight: 2 } })
    assert.equal(badPeer.statusCode, 400)
    assert.equal(errorBody(badPeer).code, 'ERR_USAGE')
    assert.deepEqual((await h.app.inject({ url: '/api/v1/network/members' })).json(), { members: [], weights: {} })
  })
})
