import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { AddressInfo } from 'node:net'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

describe('operations: health, metrics, docs, events, limits', () => {
  let h: Harness
  before(async () => { h = await harness({ rateLimit: { max: 3, timeWindow: 60_000 } }) })
  after(async () => { await h.close() })

  test('/health', async () => {
    const res = await h.app.inject({ url: '/health' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.json().status, 'ok')
    assert.equal(res.json().peerId, h.node.peerId)
    assert.equal(res.json().branch, 'main')
  })

  test('/metrics in Prometheus text format with per-route latency', async () => {
    await h.app.inject({ url: '/health' })
    await h.app.inject({ url: '/ipfs/bafkqaaa', headers: { accept: 'application/vnd.ipld.raw' } })
    await h.app.inject({ method: 'HEAD', url: '/ipfs/bafkqaaa', headers: { accept: 'application/vnd.ipld.raw' } })
    await h.app.inject({ url: '/api/v1/frames/not-a-cid' })
    await h.app.inject({ url: '/no/such/route' })
    await h.app.inject({ url: '/docs/json' })
    const res = await h.app.inject({ url: '/metrics' })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain/)
    const count = (labels: string): number => Number(new RegExp(`^framehub_http_request_duration_seconds_count\\{${labels}\\} (\\d+)$`, 'm').exec(res.body)?.[1] ?? 0)
    assert.ok(count('method="GET",route="/health",status_code="200"') >= 1)
    // The route pattern, prefix included; one series per method and status.
    assert.equal(count('method="GET",route="/ipfs/:cid",status_code="200"'), 1)
    assert.equal(count('method="HEAD",route="/ipfs/:cid",status_code="200"'), 1)
    assert.equal(count('method="GET",route="/api/v1/frames/:cid",status_code="400"'), 1)
    assert.equal(count('method="GET",route="unmatched",status_code="404"'), 1)
    assert.equal(count('method="GET",route="/docs/json",status_code="200"'), 1)
    assert.match(res.body, /^framehub_branches \d+$/m)
    assert.match(res.body, /^framehub_sessions \d+$/m)
  })

  test('/docs serves the OpenAPI document and the UI', async () => {
    const json = await h.app.inject({ url: '/docs/json' })
    assert.equal(json.statusCode, 200)
    const doc = json.json() as { openapi: string, paths: Record<string, unknown>, components: { schemas: Record<string, unknown> } }
    assert.equal(doc.openapi, '3.0.3')
    for (const path of ['/api/v1/frames', '/api/v1/frames/{cid}', '/ipfs/{cid}', '/pins', '/pins/{requestid}', '/api/v1/sessions/{session}/steps']) {
      assert.ok(path in doc.paths, path)
    }
    assert.ok('frame.schema.json' in doc.components.schemas)
    const ui = await h.app.inject({ url: '/docs' })
    assert.ok(ui.statusCode === 200 || ui.statusCode === 302)
  })

  test('unknown routes: 404 JSON with a code (a wrong method on a known path is 405: hygiene.test.ts)', async () => {
    for (const req of [{ url: '/nope' }, { url: '/api/v1/nope' }, { method: 'PUT' as const, url: '/api/v1/nope' }, { url: '/api/v2/frames' }]) {
      const res = await h.app.inject(req)
      assert.equal(res.statusCode, 404)
      assert.equal(errorBody(res).code, 'ERR_NOT_FOUND')
    }
    const badUrl = await h.app.inject({ url: '/api/v1/frames/%E0%A4%A' })
    assert.ok(badUrl.statusCode >= 400 && badUrl.statusCode < 500)
  })

  test('rate limit on write endpoints: 429 with a code, reads unaffected', async () => {
    const codes: number[] = []
    for (let i = 0; i < 5; i++) codes.push((await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(`r/${i}`) })).statusCode)
    assert.deepEqual(codes, [201, 201, 201, 429, 429])
    const limited = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('r/x') })
    assert.equal(errorBody(limited).code, 'ERR_RATE_LIMITED')
    assert.ok(limited.headers['retry-after'] != null)
    for (let i = 0; i < 5; i++) assert.equal((await h.app.inject({ url: '/api/v1/frames' })).statusCode, 200)
  })

  test('events: a Server-Sent Events stream of writes (real socket on loopback)', async () => {
    const other = await harness()
    try {
      await other.app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = other.app.server.address() as AddressInfo
      const base = `http://127.0.0.1:${port}`
      const bad = await fetch(`${base}/api/v1/events?types=nope`)
      assert.equal(bad.status, 400)
      const res = await fetch(`${base}/api/v1/events?types=frame:put,commit,ref:move,step:append&limit=5`)
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
      const reading = res.text()
      // The stream is open once the response headers are in: now write.
      const headers = { authorization: `Bearer ${other.token}`, 'content-type': 'application/json' }
      await fetch(`${base}/api/v1/frames`, { method: 'POST', headers, body: JSON.stringify(frame('e/1')) })
      await fetch(`${base}/api/v1/commits`, { method: 'POST', headers, body: JSON.stringify({ message: 'e' }) })
      await fetch(`${base}/api/v1/sessions/s/steps`, { method: 'POST', headers, body: JSON.stringify({ step: { op: 'thought', content: 'x' } }) })
      await fetch(`${base}/api/v1/sessions/s/steps`, { method: 'POST', headers, body: JSON.stringify({ step: { op: 'thought', content: 'y' } }) })
      const text = await reading
      const events = [...text.matchAll(/^event: (.+)$/gm)].map(m => m[1])
      assert.deepEqual(events, ['frame:put', 'commit', 'ref:move', 'step:append', 'step:append'])
      const data = [...text.matchAll(/^data: (.+)$/gm)].map(m => JSON.parse(m[1] as string) as Record<string, unknown>)
      assert.equal(data[0]?.id, 'e/1')
      assert.equal(data[3]?.session, 's')
    } finally {
      await other.close()
    }
  })

  test('under pressure: 503 with a code and Retry-After', async () => {
    const other = await harness({ underPressure: { maxHeapUsedBytes: 1 } })
    try {
      // under-pressure samples memory on an interval; wait for the first sample through a few requests.
      let res = await other.app.inject({ url: '/api/v1/frames' })
      for (let i = 0; i < 50 && res.statusCode !== 503; i++) {
        await new Promise(resolve => setTimeout(resolve, 20))
        res = await other.app.inject({ url: '/api/v1/frames' })
      }
      assert.equal(res.statusCode, 503)
      assert.equal(errorBody(res).code, 'ERR_OVERLOADED')
      assert.ok(res.headers['retry-after'] != null)
    } finally {
      await other.close()
    }
  })
})
