import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { bases } from 'multiformats/basics'
import { CID } from 'multiformats/cid'
import { encodeCid, keys } from '../../src/storage/state.ts'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

/**
 * Every route that reads a REF agrees on what it names (the one resolver): a CID always wins over
 * a branch of the same name, `refs/heads/NAME` names the branch, a mistyped CID is a 400.
 */
describe('/api/v1: REF resolution is the same in every route', () => {
  let h: Harness
  let c1: string
  let c2: string
  let legacy: string

  const commit = async (id: string): Promise<string> => {
    assert.equal((await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(id) })).statusCode, 201)
    const res = await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: id } })
    assert.equal(res.statusCode, 201, res.body)
    return res.json().commit
  }

  before(async () => {
    h = await harness()
    c1 = await commit('r/one')
    c2 = await commit('r/two')
    // A branch made before names that read as CIDs were refused: named like c1, pointing at c2.
    legacy = c1
    await h.node.repo.batch().putState(keys.ref(legacy), encodeCid(CID.parse(c2))).write()
  })
  after(async () => { await h.close() })

  /** What each REF-reading route says `ref` names (a CID string), or its error code. */
  const named = async (ref: string): Promise<Record<string, string>> => {
    const q = encodeURIComponent(ref)
    const out: Record<string, string> = {}
    const read = async (what: string, url: string, pick: (body: any, res: any) => string, method: 'GET' | 'POST' = 'GET', payload?: unknown): Promise<void> => {
      const res = method === 'GET' ? await h.app.inject({ url }) : await h.authed({ method, url, payload: payload as Record<string, unknown> })
      const json = String(res.headers['content-type']).includes('json')
      out[what] = res.statusCode < 300 ? pick(json ? res.json() : undefined, res) : `${res.statusCode} ${errorBody(res).code}`
    }
    await read('resolve', `/api/v1/resolve?ref=${q}`, b => b.commit)
    await read('resolve tree', `/api/v1/resolve?ref=${q}&as=tree`, b => b.commit)
    await read('resolve root', `/api/v1/resolve?ref=${q}&as=root`, b => b.root)
    await read('log', `/api/v1/commits?ref=${q}&limit=1`, b => b.commits[0].cid)
    await read('show', `/api/v1/commits/${ref}`, b => b.cid)
    await read('verify', `/api/v1/verify?ref=${q}`, b => b.root)
    await read('snapshot export', `/api/v1/snapshots/${ref}`, (_b, res) => res.headers['x-ipfs-roots'])
    await read('diff', `/api/v1/diff?from=${q}&to=${c2}`, b => b.added.map((c: any) => c.id).join(',') === 'r/two' ? c1 : b.added.length === 0 ? c2 : 'other')
    await read('frames', `/api/v1/frames?ref=${q}`, b => ({ 'r/one': c1, 'r/one,r/two': c2 })[b.frames.map((f: any) => f.id).join(',') as string] ?? 'other')
    return out
  }
  const all = (value: string): Record<string, string> =>
    Object.fromEntries(['resolve', 'resolve tree', 'resolve root', 'log', 'show', 'verify', 'snapshot export', 'diff', 'frames'].map(k => [k, value]))

  test('a CID always wins over a branch of the same name, in every route and in any multibase', async () => {
    assert.deepEqual(await named(legacy), all(c1))
    assert.deepEqual(await named(CID.parse(c1).toString(bases.base36)), all(c1))
    assert.deepEqual(await named(CID.parse(c1).toString(bases.base58btc)), all(c1))
  })

  test('refs/heads/NAME names the branch in every route', async () => {
    assert.deepEqual(await named(`refs/heads/${legacy}`), all(c2))
  })

  test('a mistyped CID is 400 ERR_CID_INVALID in every route; an unknown name is 404 ERR_REF_NOT_FOUND', async () => {
    assert.deepEqual(await named(c1.slice(0, -1)), all('400 ERR_CID_INVALID'))
    assert.deepEqual(await named('bafyinvalid'), all('400 ERR_CID_INVALID'))
    assert.deepEqual(await named('nope'), all('404 ERR_REF_NOT_FOUND'))
    for (const [url, payload] of [['/api/v1/merge', { ref: c1.slice(0, -1) }], ['/api/v1/branches', { name: 'from-bad', start: c1.slice(0, -1) }]] as const) {
      const res = await h.authed({ method: 'POST', url, payload })
      assert.equal(res.statusCode, 400, res.body)
      assert.equal(errorBody(res).code, 'ERR_CID_INVALID')
    }
  })

  test('no branch may be created with a name that reads as a CID or starts with refs/', async () => {
    for (const name of [c2, CID.parse(c2).toString(bases.base36), 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', 'refs/heads/x']) {
      const created = await h.authed({ method: 'POST', url: '/api/v1/branches', payload: { name } })
      assert.equal(created.statusCode, 400, created.body)
      assert.equal(errorBody(created).code, 'ERR_REF_INVALID')
      const checkout = await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: { branch: name, create: true } })
      assert.equal(checkout.statusCode, 400, checkout.body)
      assert.equal(errorBody(checkout).code, 'ERR_REF_INVALID')
    }
  })

  test('a branch already named like a CID is listed, shown by /head, checked out, and deleted', async () => {
    const list = (await h.app.inject({ url: '/api/v1/branches' })).json()
    assert.ok(list.branches.some((b: any) => b.name === legacy && b.commit === c2))
    const head = await h.app.inject({ url: `/api/v1/head?branch=${legacy}` })
    assert.equal(head.statusCode, 200, head.body)
    assert.equal(head.json().commit, c2)
    const out = await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: { branch: legacy } })
    assert.deepEqual(out.json(), { branch: legacy, commit: c2 })
    assert.equal((await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: { branch: 'main' } })).statusCode, 200)
    const moved = await h.authed({ method: 'POST', url: '/api/v1/branches', payload: { name: 'moved', start: `refs/heads/${legacy}` } })
    assert.equal(moved.statusCode, 201, moved.body)
    assert.equal(moved.json().commit, c2)
    const deleted = await h.authed({ method: 'DELETE', url: `/api/v1/branches/${legacy}` })
    assert.equal(deleted.statusCode, 204, deleted.body)
    assert.ok(!(await h.app.inject({ url: '/api/v1/branches' })).json().branches.some((b: any) => b.name === legacy))
  })
})
