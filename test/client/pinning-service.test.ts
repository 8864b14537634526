import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { createPinningService } from '../../src/client/pinning-service.ts'
import type { PinningService } from '../../src/client/pinning-service.ts'
import { frame, harness } from '../http/helpers.ts'
import type { Harness } from '../http/helpers.ts'

describe('the pinning-service client against a framehub node\'s /pins', () => {
  let h: Harness
  let url: string
  let service: PinningService
  let cid: string
  before(async () => {
    h = await harness()
    cid = (await h.node.frames.put(frame('pinned-frame'))).cid.toString()
    await h.app.listen({ port: 0, host: '127.0.0.1' })
    url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
    service = await createPinningService({ url, token: h.token })
  })
  after(async () => { await h.close() })

  test('add waits until pinned; list finds it; remove takes it away, a second remove is ERR_PIN_NOT_FOUND', async () => {
    const pin = await service.add(cid, { name: 'one', waitMs: 60_000 })
    assert.equal(pin.status, 'pinned')
    assert.equal(pin.cid, cid)
    assert.equal(pin.name, 'one')
    assert.ok(Array.isArray(pin.delegates))
    const listed = await service.list({ cid: [cid], status: ['pinned'] })
    assert.deepEqual(listed.results.map(p => p.requestid), [pin.requestid])
    assert.equal(listed.count, 1)
    await service.remove(pin.requestid)
    await assert.rejects(service.remove(pin.requestid), { code: 'ERR_PIN_NOT_FOUND' })
  })

  test('removeAll removes every request of a CID; with none left it is ERR_PIN_NOT_FOUND', async () => {
    const a = await service.add(cid, { background: true, waitMs: 0 })
    const b = await service.add(cid, { name: 'two', waitMs: 60_000 })
    assert.deepEqual((await service.removeAll(cid)).sort(), [a.requestid, b.requestid].sort())
    await assert.rejects(service.removeAll(cid), { code: 'ERR_PIN_NOT_FOUND' })
  })

  test('the service\'s refusals are FramehubErrors with stable codes', async () => {
    const wrong = await createPinningService({ url, token: 'not-the-token' })
    await assert.rejects(wrong.list({}), { code: 'ERR_UNAUTHORIZED' })
    const nowhere = await createPinningService({ url: `${url}/nothing-here`, token: h.token })
    await assert.rejects(nowhere.list({}), { code: 'ERR_NOT_FOUND' })
    const closed = await createPinningService({ url: 'http://127.0.0.1:1', token: h.token })
    await assert.rejects(closed.list({}), { code: 'ERR_PIN_SERVICE_UNREACHABLE' })
  })
})
