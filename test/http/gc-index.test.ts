import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { CarWriter } from '@ipld/car'
import { encodeBlock } from '../../src/core/block.ts'
import { clearApiAddress, writeApiAddress } from '../../src/storage/api-file.ts'
import { runCli } from '../helpers/repo.ts'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

interface FrameListView { tree: string, frames: Array<{ id: string }>, cursor: string | null, scanned: number }

async function car (): Promise<{ root: string, bytes: Buffer }> {
  const leaf = encodeBlock({ leaf: 'gc test' })
  const root = encodeBlock({ child: leaf.cid })
  const { writer, out } = CarWriter.create([root.cid])
  const parts: Uint8Array[] = []
  const done = (async () => { for await (const c of out) parts.push(c) })()
  await writer.put(root)
  await writer.put(leaf)
  await writer.close()
  await done
  return { root: root.cid.toString(), bytes: Buffer.concat(parts) }
}

/**
 * 30 frames committed on main ("thirty"), and staged on top: one plan more (n/01), one plan less
 * (n/03 removed).
 */
async function seedThirty (h: Harness): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(`n/${String(i).padStart(2, '0')}`, { kind: i % 3 === 0 ? 'plan' : 'note', tags: [`t${i % 2}`], title: i % 5 === 0 ? 'Needle in the hay' : 'just hay' }) })
    assert.equal(res.statusCode, 201)
  }
  assert.equal((await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: 'thirty' } })).statusCode, 201)
  await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('n/01', { kind: 'plan', tags: ['t1'], title: 'changed' }) })
  await h.authed({ method: 'DELETE', url: '/api/v1/frames/by-id/n/03' })
}

/** A harness of one test's own, with `seedThirty` written; closed when the test ends. */
async function seededHarness (t: TestContext): Promise<Harness> {
  const h = await harness()
  t.after(async () => { await h.close() })
  await seedThirty(h)
  return h
}

// The tests that read what a write left have a repository of their own: any one runs alone.
describe('/api/v1/gc, /api/v1/index and indexed lists', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })

  test('POST /gc needs the token, validates its query, and answers {removed, kept, bytesFreed, dryRun}', async () => {
    const none = await h.app.inject({ method: 'POST', url: '/api/v1/gc' })
    assert.equal(none.statusCode, 401)
    assert.equal(errorBody(none).code, 'ERR_UNAUTHORIZED')
    const bad = await h.authed({ method: 'POST', url: '/api/v1/gc?dryRun=perhaps' })
    assert.equal(bad.statusCode, 400)
    assert.equal(errorBody(bad).code, 'ERR_VALIDATION')
    const unknown = await h.authed({ method: 'POST', url: '/api/v1/gc?force=1' })
    assert.equal(unknown.statusCode, 400)
    const dry = await h.authed({ method: 'POST', url: '/api/v1/gc?dryRun=true' })
    assert.equal(dry.statusCode, 200, dry.body)
    assert.deepEqual(Object.keys(dry.json()), ['removed', 'kept', 'bytesFreed', 'dryRun'])
    assert.equal(dry.json().dryRun, true)
  })

  test('a DAG held only by a pin survives gc; unpinned, it goes', async () => {
    const { root, bytes } = await car()
    const imported = await h.authed({ method: 'POST', url: '/api/v1/snapshots', payload: bytes, headers: { 'content-type': 'application/vnd.ipld.car' } })
    assert.equal(imported.statusCode, 201, imported.body)
    const pin = await h.authed({ method: 'POST', url: '/pins', payload: { cid: root } })
    assert.equal(pin.statusCode, 202)
    await h.app.framehub.pins.idle()
    const gc = await h.authed({ method: 'POST', url: '/api/v1/gc' })
    assert.equal(gc.statusCode, 200)
    assert.equal(gc.json().dryRun, false)
    assert.equal((await h.app.inject({ url: `/ipfs/${root}?format=car` })).statusCode, 200, 'the pinned DAG is still served')

    assert.equal((await h.authed({ method: 'DELETE', url: `/pins/${pin.json().requestid as string}` })).statusCode, 202)
    await h.app.framehub.pins.idle()
    const again = await h.authed({ method: 'POST', url: '/api/v1/gc' })
    assert.equal(again.json().removed, 2)
    assert.ok(again.json().bytesFreed > 0)
    assert.equal((await h.app.inject({ url: `/ipfs/${root}?format=raw` })).statusCode, 404)
  })

  test('kind, tag and q are answered from the index: pages hold `limit` frames, staged changes included', async (t) => {
    // Committed, and staged on top: one plan more, one plan less.
    const h = await seededHarness(t)

    const pages = async (query: string): Promise<string[]> => {
      const ids: string[] = []
      let cursor: string | null = null
      for (let n = 0; n < 50; n++) {
        const res: LightMyRequestResponse = await h.app.inject({ url: `/api/v1/frames?${query}${cursor != null ? `&cursor=${cursor}` : ''}` })
        assert.equal(res.statusCode, 200, res.body)
        const body = res.json() as FrameListView
        if (body.cursor != null) assert.equal(body.frames.length, 2, 'a page is full unless it is the last')
        assert.ok(body.scanned <= 3)
        ids.push(...body.frames.map(f => f.id))
        cursor = body.cursor
        if (cursor == null) break
      }
      return ids
    }
    assert.deepEqual(await pages('kind=plan&limit=2'), ['n/00', 'n/01', 'n/06', 'n/09', 'n/12', 'n/15', 'n/18', 'n/21', 'n/24', 'n/27'])
    assert.deepEqual(await pages('kind=plan&tag=t1&limit=2'), ['n/01', 'n/09', 'n/15', 'n/21', 'n/27'])
    assert.deepEqual(await pages('q=NEEDLE%20hay&limit=2'), ['n/00', 'n/05', 'n/10', 'n/15', 'n/20', 'n/25'])
    assert.deepEqual(await pages('q=needle&ref=main&prefix=n/1&limit=2'), ['n/10', 'n/15'])
    assert.deepEqual(await pages('q=%21%21&limit=2'), [], 'a text query without words matches nothing')
  })

  test('GET /index, POST /index/rebuild, and the index lag in /metrics', async (t) => {
    const h = await seededHarness(t)
    const status = await h.app.inject({ url: '/api/v1/index' })
    assert.equal(status.statusCode, 200)
    const branches = status.json().branches as Array<{ branch: string, current: boolean, head: string, indexed: string }>
    assert.deepEqual(branches.map(b => [b.branch, b.current]), [['main', true]])
    assert.equal(branches[0]?.head, branches[0]?.indexed)
    assert.equal((await h.app.inject({ method: 'POST', url: '/api/v1/index/rebuild' })).statusCode, 401)
    const rebuilt = await h.authed({ method: 'POST', url: '/api/v1/index/rebuild?branch=main' })
    assert.equal(rebuilt.statusCode, 200, rebuilt.body)
    assert.deepEqual(rebuilt.json().updates.map((u: { mode: string, frames: number }) => [u.mode, u.frames]), [['rebuild', 30]])
    const missing = await h.authed({ method: 'POST', url: '/api/v1/index/rebuild?branch=nosuch' })
    assert.equal(missing.statusCode, 404)
    assert.equal(errorBody(missing).code, 'ERR_REF_NOT_FOUND')
    const invalid = await h.authed({ method: 'POST', url: '/api/v1/index/rebuild?branch=a..b' })
    assert.equal(invalid.statusCode, 400)
    const metrics = await h.app.inject({ url: '/metrics' })
    assert.match(metrics.body, /^framehub_index_lag 0$/m)
  })

  test('the CLI runs gc and index commands through the daemon that holds the repository', async (t) => {
    const h = await seededHarness(t)
    await h.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = h.app.server.address() as AddressInfo
    const path = h.node.repo.path
    await writeApiAddress(path, { url: `http://127.0.0.1:${port}`, pid: process.pid, token: h.token })
    try {
      // The repository is locked by this process: an answer proves the daemon did the work.
      const gc = await runCli(['--repo', path, 'gc', '--dry-run', '--json'])
      assert.equal(gc.code, 0, gc.stderr)
      assert.equal(gc.json.dryRun, true)
      const status = await runCli(['--repo', path, 'index', 'status', '--json'])
      assert.equal(status.code, 0, status.stderr)
      assert.deepEqual(status.json.branches.map((b: { branch: string, current: boolean }) => [b.branch, b.current]), [['main', true]])
      const rebuilt = await runCli(['--repo', path, 'index', 'rebuild', '--json'])
      assert.equal(rebuilt.code, 0, rebuilt.stderr)
      assert.deepEqual(rebuilt.json.updates.map((u: { branch: string, mode: string }) => [u.branch, u.mode]), [['main', 'rebuild']])
      const missing = await runCli(['--repo', path, 'index', 'rebuild', 'nosuch', '--json'])
      assert.equal(missing.code, 3)
      assert.equal(JSON.parse(missing.stderr).code, 'ERR_REF_NOT_FOUND')
    } finally {
      await clearApiAddress(path)
    }
  })
})
