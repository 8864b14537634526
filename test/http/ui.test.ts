import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { acceptsGzip } from '../../src/http/routes/ui.ts'
import { errorBody, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

describe('/ui: the explorer\'s files', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })

  test('the page, its modules and the graph libraries, from this origin only', async () => {
    for (const url of ['/ui', '/ui/']) {
      const res = await h.app.inject({ url })
      assert.equal(res.statusCode, 200, url)
      assert.match(res.headers['content-type'] as string, /^text\/html/)
      assert.match(res.body, /<script type="module" src="\/ui\/app.js">/)
      const csp = res.headers['content-security-policy'] as string
      assert.match(csp, /default-src 'none'/)
      assert.match(csp, /script-src 'self';/)
      assert.match(csp, /connect-src 'self'/)
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      // No other origin is named anywhere in the page.
      assert.doesNotMatch(res.body, /https?:\/\//)
    }
    for (const [url, pattern] of [['/ui/app.js', /from '\/ui\/api.js'/], ['/ui/graph.js', /cytoscape/], ['/ui/style.css', /:root/], ['/ui/vendor/cytoscape.mjs', /export\s*\{/], ['/ui/vendor/cytoscape-dagre.mjs', /dagre/]] as const) {
      const res = await h.app.inject({ url })
      assert.equal(res.statusCode, 200, url)
      assert.match(res.headers['content-type'] as string, url.endsWith('.css') ? /^text\/css/ : /^text\/javascript/, url)
      assert.match(res.body, pattern, url)
      assert.doesNotMatch(res.body, /import\s*[^;]*from\s*['"]https?:/, `${url} imports nothing from another origin`)
    }
  })

  test('revalidation with the ETag', async () => {
    const first = await h.app.inject({ url: '/ui/app.js' })
    const etag = first.headers.etag as string
    assert.match(etag, /^"[\w-]+"$/)
    assert.equal(first.headers['cache-control'], 'no-cache')
    const again = await h.app.inject({ url: '/ui/app.js', headers: { 'if-none-match': etag } })
    assert.equal(again.statusCode, 304)
    assert.equal(again.body, '')
  })

  test('gzip when the client takes it, its own ETag; the same bytes once inflated', async () => {
    const plain = await h.app.inject({ url: '/ui/vendor/cytoscape.mjs' })
    assert.equal(plain.headers['content-encoding'], undefined)
    assert.equal(plain.headers.vary, 'accept-encoding')
    const zipped = await h.app.inject({ url: '/ui/vendor/cytoscape.mjs', headers: { 'accept-encoding': 'gzip, deflate, br' } })
    assert.equal(zipped.statusCode, 200)
    assert.equal(zipped.headers['content-encoding'], 'gzip')
    assert.ok(zipped.rawPayload.length < plain.rawPayload.length / 2, `${zipped.rawPayload.length} of ${plain.rawPayload.length} bytes`)
    assert.deepEqual(gunzipSync(zipped.rawPayload), plain.rawPayload)
    assert.notEqual(zipped.headers.etag, plain.headers.etag)
    const again = await h.app.inject({ url: '/ui/vendor/cytoscape.mjs', headers: { 'accept-encoding': 'gzip', 'if-none-match': zipped.headers.etag as string } })
    assert.equal(again.statusCode, 304)
    for (const refused of ['gzip;q=0', 'br', 'identity', '']) {
      const res = await h.app.inject({ url: '/ui/vendor/cytoscape.mjs', headers: { 'accept-encoding': refused } })
      assert.equal(res.headers['content-encoding'], undefined, refused)
    }
    assert.equal(acceptsGzip('*'), true)
    assert.equal(acceptsGzip('deflate, GZIP;q=0.5'), true)
    assert.equal(acceptsGzip(undefined), false)
  })

  test('anything else is a 404 with a code, and no path reaches the file system', async () => {
    for (const url of ['/ui/nope.js', '/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/vendor/../../package.json', '/ui/vendor/', '/ui/vendor/cytoscape.cjs.js', '/ui/ui.ts']) {
      const res = await h.app.inject({ url })
      assert.equal(res.statusCode, 404, url)
      assert.equal(errorBody(res).code, 'ERR_NOT_FOUND', url)
    }
    const post = await h.app.inject({ method: 'POST', url: '/ui/app.js', payload: {} })
    assert.ok(post.statusCode === 404 || post.statusCode === 405, `POST → ${post.statusCode}`)
  })

  test('GET /api/v1/network/status: 200 offline too, where /id is 409', async () => {
    const res = await h.app.inject({ url: '/api/v1/network/status' })
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { online: false, peerId: h.node.peerId })
    assert.equal((await h.app.inject({ url: '/api/v1/id' })).statusCode, 409)
    const bad = await h.app.inject({ url: '/api/v1/network/status?x=1' })
    assert.ok(bad.statusCode === 200 || bad.statusCode === 400, `unknown query → ${bad.statusCode}`)
    const post = await h.app.inject({ method: 'POST', url: '/api/v1/network/status', payload: {} })
    assert.equal(post.statusCode, 405)
    assert.equal(errorBody(post).code, 'ERR_METHOD_NOT_ALLOWED')
  })

  test('not in the OpenAPI document', async () => {
    const doc = (await h.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, unknown> }
    assert.deepEqual(Object.keys(doc.paths).filter(p => p.startsWith('/ui')), [])
  })

  test('ui: false serves no explorer', async () => {
    const off = await harness({ ui: false })
    try {
      const res = await off.app.inject({ url: '/ui' })
      assert.equal(res.statusCode, 404)
    } finally {
      await off.close()
    }
  })
})
