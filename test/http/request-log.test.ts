import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { harness } from './helpers.ts'
import type { Harness } from './helpers.ts'
import { createGateway } from '../../src/http/app.ts'
import type { GatewayInit } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'

/** A gateway whose pino logger writes its JSON lines into `lines`. */
async function logged (init: GatewayInit): Promise<{ h: Harness, lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  const h = await harness({ logger: { level: 'info', stream }, ...init })
  return { h, lines }
}

const messages = (lines: Array<Record<string, unknown>>): string[] => lines.map(l => String(l.msg))

describe('request logging of the gateway', () => {
  describe('by default (problems only)', () => {
    let h: Harness
    let lines: Array<Record<string, unknown>>
    before(async () => { ({ h, lines } = await logged({})) })
    after(async () => { await h.close() })

    it('a request answered quickly and without a server error writes no log line', async () => {
      const res = await h.app.inject({ method: 'GET', url: '/health' })
      assert.equal(res.statusCode, 200)
      // A client error is the client's business: no line either.
      const bad = await h.authed({ method: 'GET', url: '/api/v1/frames/no-such-frame' })
      assert.ok(bad.statusCode >= 400 && bad.statusCode < 500, String(bad.statusCode))
      assert.deepEqual(messages(lines).filter(m => /request/.test(m)), [])
    })
  })

  describe('slow requests', () => {
    let h: Harness
    let lines: Array<Record<string, unknown>>
    // Every request counts as slow at 0 ms: the line is checked without timing anything.
    before(async () => { ({ h, lines } = await logged({ slowRequestMs: 0 })) })
    after(async () => { await h.close() })

    it('are logged at warn with method, url, status and time, one line each', async () => {
      const res = await h.app.inject({ method: 'GET', url: '/health' })
      assert.equal(res.statusCode, 200)
      const slow = lines.filter(l => l.msg === 'slow request')
      assert.equal(slow.length, 1)
      const line = slow[0] as { level: number, req: { method: string, url: string }, res: { statusCode: number }, responseTime: number }
      assert.equal(line.level, 40)
      assert.deepEqual(line.req, { method: 'GET', url: '/health' })
      assert.equal(line.res.statusCode, 200)
      assert.equal(typeof line.responseTime, 'number')
      assert.ok(!messages(lines).includes('incoming request'))
    })
  })

  describe('server errors', () => {
    it('a 5xx answer is logged at warn, beside the error handler\'s own line', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'framehub-http-log-'))
      const node = await createNode({ repo: dir, create: true })
      const lines: Array<Record<string, unknown>> = []
      const stream = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>); done() } })
      const app = await createGateway(node, { logger: { level: 'info', stream }, underPressure: false })
      try {
        // A route of this app that fails as a handler's bug would.
        app.get('/test/failing', async () => { throw new Error('a handler failed') })
        await app.ready()
        const ok = await app.inject({ method: 'GET', url: '/health' })
        assert.equal(ok.statusCode, 200)
        const res = await app.inject({ method: 'GET', url: '/test/failing' })
        assert.equal(res.statusCode, 500)
        const errors = lines.filter(l => l.msg === 'request answered with a server error')
        assert.equal(errors.length, 1)
        const line = errors[0] as { level: number, req: { url: string }, res: { statusCode: number } }
        assert.equal(line.level, 40)
        assert.equal(line.req.url, '/test/failing')
        assert.equal(line.res.statusCode, 500)
        assert.ok(lines.some(l => l.msg === 'request failed' && l.level === 50))
      } finally {
        await app.close()
        await node.close()
        await rm(dir, { recursive: true, force: true })
      }
    })
  })

  describe('logRequests: all (framehub daemon --log-requests)', () => {
    let h: Harness
    let lines: Array<Record<string, unknown>>
    before(async () => { ({ h, lines } = await logged({ logRequests: 'all' })) })
    after(async () => { await h.close() })

    it('every request gets Fastify\'s two access lines at info', async () => {
      await h.app.inject({ method: 'GET', url: '/health' })
      await h.app.inject({ method: 'GET', url: '/health' })
      assert.equal(lines.filter(l => l.msg === 'incoming request' && l.level === 30).length, 2)
      assert.equal(lines.filter(l => l.msg === 'request completed' && l.level === 30).length, 2)
      assert.equal(lines.filter(l => l.msg === 'slow request').length, 0)
    })
  })
})
