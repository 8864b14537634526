import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { hostPolicy, parseAllowHost } from '../../src/http/plugins/host.ts'
import { startDaemonProcess } from '../helpers/daemon.ts'
import { runCli } from '../helpers/repo.ts'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

/** A GET over a real socket to 127.0.0.1:`port` with a chosen Host header (fetch cannot set it). */
async function getWithHost (port: number, path: string, host: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host, accept: 'application/vnd.ipld.raw' } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('error', reject).end()
  })
}

describe('Host header against DNS rebinding', () => {
  let h: Harness
  let port: number
  before(async () => {
    h = await harness({ allowHosts: ['framehub.test', 'pinned.test:1234'] })
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    port = (h.app.server.address() as AddressInfo).port
  })
  after(async () => { await h.close() })

  test('the gateway\'s own names pass, on its port', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      assert.equal((await getWithHost(port, '/health', host)).status, 200, host)
    }
  })

  test('another name, or another port, is refused on every route with 403 ERR_HOST_NOT_ALLOWED', async () => {
    for (const path of ['/health', '/metrics', '/api/v1/frames', '/ipfs/bafkqaaa', '/docs/json', '/pins', '/no/such/route']) {
      for (const host of [`rebind.example:${port}`, 'rebind.example', `127.0.0.1:${port + 1}`, `localhost:${port + 1}`, `pinned.test:${port}`]) {
        const res = await getWithHost(port, path, host)
        assert.equal(res.status, 403, `${path} with Host ${host}`)
        const body = JSON.parse(res.body) as { code?: string, error?: { details: string } }
        // /pins answers in the pinning API's Failure shape, with the same code.
        assert.ok(body.code === 'ERR_HOST_NOT_ALLOWED' || body.error?.details.startsWith('ERR_HOST_NOT_ALLOWED') === true, res.body)
      }
    }
  })

  test('--allow-host names pass: HOST on any port, HOST:PORT on that port', async () => {
    assert.equal((await getWithHost(port, '/health', `framehub.test:${port}`)).status, 200)
    assert.equal((await getWithHost(port, '/health', 'framehub.test:9')).status, 200)
    assert.equal((await getWithHost(port, '/health', 'pinned.test:1234')).status, 200)
  })

  test('policy: loopback, one address, all interfaces (decided without binding them)', () => {
    const loopback = hostPolicy([{ address: '127.0.0.1', family: 'IPv4', port: 8080 }], [])
    assert.equal(loopback('127.0.0.1:8080', { localAddress: '127.0.0.1', localPort: 8080 }), true)
    assert.equal(loopback('[::1]:8080', { localAddress: '127.0.0.1', localPort: 8080 }), true)
    assert.equal(loopback('evil.example:8080', { localAddress: '127.0.0.1', localPort: 8080 }), false)
    // Not over a socket (app.inject): not checked.
    assert.equal(loopback('evil.example:8080', {}), true)
    // The gateway's own name is answered without asking the socket (its localAddress is a getsockname call).
    const untouchable = { get localAddress (): string { throw new Error('read the socket') } }
    assert.equal(loopback('127.0.0.1:8080', untouchable), true)
    // Port 80: browsers leave the port out.
    const on80 = hostPolicy([{ address: '::1', family: 'IPv6', port: 80 }], [])
    assert.equal(on80('localhost', { localAddress: '::1', localPort: 80 }), true)
    assert.equal(on80('[::1]', { localAddress: '::1', localPort: 80 }), true)
    assert.equal(on80('evil.example', { localAddress: '::1', localPort: 80 }), false)
    // All interfaces: any host, unless --allow-host names some; then those, and the literal
    // address a request came in on (a name cannot be rebound to it).
    const everywhere = hostPolicy([{ address: '0.0.0.0', family: 'IPv4', port: 8080 }], [])
    assert.equal(everywhere('node1:8080', { localAddress: '172.18.0.2', localPort: 8080 }), true)
    const named = hostPolicy([{ address: '::', family: 'IPv6', port: 8080 }], [parseAllowHost('node1:8080')])
    assert.equal(named('node1:8080', { localAddress: '172.18.0.2', localPort: 8080 }), true)
    assert.equal(named('172.18.0.2:8080', { localAddress: '::ffff:172.18.0.2', localPort: 8080 }), true)
    assert.equal(named('localhost:8080', { localAddress: '::1', localPort: 8080 }), true)
    assert.equal(named('evil.example:8080', { localAddress: '172.18.0.2', localPort: 8080 }), false)
    assert.equal(hostPolicy([{ address: '127.0.0.1', family: 'IPv4', port: 1 }], [parseAllowHost('*')])('evil.example', { localAddress: '127.0.0.1', localPort: 1 }), true)
    for (const bad of ['', 'a b', 'host:99999', '[nope]:80', 'http://x']) assert.throws(() => parseAllowHost(bad), RangeError, bad)
  })
})

describe('methods, media types and CORS', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })

  test('a wrong method on an existing path: 405 ERR_METHOD_NOT_ALLOWED with Allow; unknown paths stay 404', async () => {
    const cases: Array<[string, string, string[]]> = [
      ['PUT', '/api/v1/frames', ['GET', 'POST']],
      ['DELETE', '/health', ['GET']],
      ['POST', '/ipfs/bafkqaaa', ['GET', 'HEAD']],
      ['PATCH', '/api/v1/frames/by-id/a/b', ['GET', 'DELETE']],
      ['PUT', '/pins/some-request', ['GET', 'POST', 'DELETE']]
    ]
    for (const [method, url, expected] of cases) {
      const res = await h.authed({ method: method as 'PUT', url })
      assert.equal(res.statusCode, 405, `${method} ${url}`)
      const allow = String(res.headers.allow).split(', ')
      for (const m of expected) assert.ok(allow.includes(m), `${method} ${url}: Allow ${String(res.headers.allow)} lacks ${m}`)
      assert.ok(!allow.includes(method))
      if (!url.startsWith('/pins')) assert.equal(errorBody(res).code, 'ERR_METHOD_NOT_ALLOWED')
    }
    for (const url of ['/nope', '/api/v1/nope', '/api/v2/frames']) {
      const res = await h.app.inject({ method: 'PUT', url })
      assert.equal(res.statusCode, 404, url)
      assert.equal(errorBody(res).code, 'ERR_NOT_FOUND')
    }
  })

  test('a body of a type the route does not take: 415 ERR_UNSUPPORTED_MEDIA_TYPE', async () => {
    const cases: Array<[string, string, string]> = [
      ['/api/v1/frames', 'text/plain', JSON.stringify(frame('t/1'))],
      ['/api/v1/frames', 'application/x-www-form-urlencoded', 'id=t/1'],
      ['/api/v1/commits', 'text/plain', '{"message":"m"}'],
      ['/api/v1/gc', 'text/plain', 'x'],
      ['/api/v1/frames/import', 'application/json', JSON.stringify(frame('t/2'))],
      ['/api/v1/snapshots', 'application/json', '{}']
    ]
    for (const [url, type, payload] of cases) {
      const res = await h.authed({ method: 'POST', url, headers: { 'content-type': type }, payload })
      assert.equal(res.statusCode, 415, `${url} ${type}: ${res.body}`)
      assert.equal(errorBody(res).code, 'ERR_UNSUPPORTED_MEDIA_TYPE')
    }
    const pin = await h.authed({ method: 'POST', url: '/pins', headers: { 'content-type': 'text/plain' }, payload: '{"cid":"bafkqaaa"}' })
    assert.equal(pin.statusCode, 415)
    // The right type still works.
    assert.equal((await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('t/3') })).statusCode, 201)
  })

  test('CORS: /ipfs reads get Access-Control-Allow-Origin *, the API and /pins none', async () => {
    const origin = { origin: 'https://some.page' }
    const raw = await h.app.inject({ url: '/ipfs/bafkqaaa', headers: { ...origin, accept: 'application/vnd.ipld.raw' } })
    assert.equal(raw.statusCode, 200)
    assert.equal(raw.headers['access-control-allow-origin'], '*')
    assert.match(String(raw.headers['access-control-expose-headers']), /X-Ipfs-Roots/)
    // Errors too, so that a page can read why.
    const missing = await h.app.inject({ url: '/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', headers: { ...origin, accept: 'application/vnd.ipld.raw' } })
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.headers['access-control-allow-origin'], '*')
    const preflight = await h.app.inject({ method: 'OPTIONS', url: '/ipfs/bafkqaaa', headers: { ...origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' } })
    assert.equal(preflight.statusCode, 204)
    assert.equal(preflight.headers['access-control-allow-origin'], '*')
    assert.match(String(preflight.headers['access-control-allow-methods']), /GET/)
    assert.doesNotMatch(String(preflight.headers['access-control-allow-methods']), /POST/)

    for (const req of [
      { url: '/api/v1/frames', headers: origin },
      { url: '/health', headers: origin },
      { url: '/metrics', headers: origin },
      { url: '/pins', headers: { ...origin, authorization: `Bearer ${h.token}` } },
      { method: 'OPTIONS' as const, url: '/api/v1/frames', headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } },
      { method: 'OPTIONS' as const, url: '/pins', headers: { ...origin, 'access-control-request-method': 'POST' } }
    ]) {
      const res = await h.app.inject(req)
      assert.equal(res.headers['access-control-allow-origin'], undefined, `${req.method ?? 'GET'} ${req.url}`)
      assert.equal(res.headers['access-control-allow-methods'], undefined, `${req.method ?? 'GET'} ${req.url}`)
    }
  })
})

describe('framehub daemon --allow-host', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'framehub-hygiene-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  test('names a host the daemon answers; a malformed one is a usage error (exit 2)', async () => {
    const bad = await runCli(['--repo', join(dir, 'bad'), 'daemon', '--api', '127.0.0.1:0', '--offline', '--allow-host', 'not a host'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--allow-host/)
    const daemon = await startDaemonProcess(join(dir, 'repo'), ['--offline', '--allow-host', 'memory.lan'])
    try {
      const port = Number(new URL(daemon.info.url).port)
      assert.equal((await getWithHost(port, '/health', `memory.lan:${port}`)).status, 200)
      assert.equal((await getWithHost(port, '/health', `127.0.0.1:${port}`)).status, 200)
      const refused = await getWithHost(port, '/api/v1/frames', `rebind.example:${port}`)
      assert.equal(refused.status, 403)
      assert.equal((JSON.parse(refused.body) as { code: string }).code, 'ERR_HOST_NOT_ALLOWED')
      // The CLI reaches its daemon by the address it wrote: unaffected.
      const put = await daemon.cli(['frame', 'put', '-', '--json'], { input: JSON.stringify(frame('h/1')) })
      assert.equal(put.code, 0, put.stderr)
    } finally {
      await daemon.stop()
    }
  })
})
