import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { emptyTree } from '../../src/core/tree/index.ts'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

const EMPTY = emptyTree().root.toString()
const MISSING = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const ndjson = (...lines: unknown[]): string => lines.map(l => typeof l === 'string' ? l : JSON.stringify(l)).join('\n') + '\n'

// Each test has a repository of its own and writes what it reads first, so any one runs alone.
describe('/api/v1 routes the CLI needs through a daemon: head, resolve, checkout, frame import', () => {
  let h: Harness
  beforeEach(async () => { h = await harness({ frameImportLimit: 64 * 1024 }) })
  afterEach(async () => { await h.close() })

  const put = async (id: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(id, extra) })
    assert.equal(res.statusCode, 201, res.body)
    return res.json().cid
  }
  const commit = async (message: string): Promise<string> => {
    const res = await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message } })
    assert.equal(res.statusCode, 201, res.body)
    return res.json().commit
  }
  const importFrames = async (body: string, query = '', headers: Record<string, string> = { 'content-type': 'application/x-ndjson' }) =>
    await h.authed({ method: 'POST', url: `/api/v1/frames/import${query}`, payload: body, headers })

  test('head, resolve and diff before and after the first commit', async () => {
    const head = await h.app.inject({ url: '/api/v1/head' })
    assert.equal(head.statusCode, 200, head.body)
    assert.deepEqual(head.json(), { branch: 'main', current: true, commit: null, workingTree: EMPTY })
    const noCommit = await h.app.inject({ url: '/api/v1/resolve' })
    assert.equal(noCommit.statusCode, 404)
    assert.equal(errorBody(noCommit).code, 'ERR_REF_NOT_FOUND')
    assert.deepEqual((await h.app.inject({ url: '/api/v1/resolve?as=tree' })).json(), { tree: EMPTY })

    const cid = await put('r/one')
    const staged = (await h.app.inject({ url: '/api/v1/head' })).json()
    assert.notEqual(staged.workingTree, EMPTY)
    // diff with no bounds: HEAD (nothing yet) → working tree
    const diff = await h.app.inject({ url: '/api/v1/diff' })
    assert.deepEqual(diff.json(), { added: [{ id: 'r/one', before: null, after: cid }], removed: [], changed: [] })

    const c1 = await commit('one')
    const after1 = (await h.app.inject({ url: '/api/v1/head' })).json()
    assert.deepEqual(after1, { branch: 'main', current: true, commit: c1, workingTree: staged.workingTree })
    assert.deepEqual((await h.app.inject({ url: '/api/v1/resolve?ref=HEAD' })).json(), { commit: c1 })
    assert.deepEqual((await h.app.inject({ url: '/api/v1/resolve?ref=main&as=tree' })).json(), { commit: c1, tree: staged.workingTree })
    assert.deepEqual((await h.app.inject({ url: `/api/v1/resolve?ref=${staged.workingTree as string}&as=tree` })).json(), { tree: staged.workingTree })
    assert.deepEqual((await h.app.inject({ url: `/api/v1/resolve?ref=${cid}&as=root` })).json(), { root: cid })
    assert.deepEqual((await h.app.inject({ url: '/api/v1/resolve?ref=main&as=root' })).json(), { root: c1 })
    assert.deepEqual((await h.app.inject({ url: '/api/v1/diff' })).json(), { added: [], removed: [], changed: [] })

    const cases: Array<[string, number, string]> = [
      ['/api/v1/resolve?ref=nope', 404, 'ERR_REF_NOT_FOUND'],
      [`/api/v1/resolve?ref=${cid}`, 400, 'ERR_REF_INVALID'],
      ['/api/v1/resolve?as=root', 400, 'ERR_VALIDATION'],
      [`/api/v1/resolve?ref=${MISSING}&as=root`, 404, 'ERR_BLOCK_NOT_FOUND'],
      ['/api/v1/resolve?as=branch', 400, 'ERR_VALIDATION'],
      ['/api/v1/resolve?ref=main&extra=1', 400, 'ERR_VALIDATION'],
      ['/api/v1/head?branch=bad%20name', 400, 'ERR_REF_INVALID'],
      ['/api/v1/head?branch=', 400, 'ERR_VALIDATION']
    ]
    for (const [url, status, code] of cases) {
      const res = await h.app.inject({ url })
      assert.equal(res.statusCode, status, `${url}: ${res.body}`)
      assert.equal(errorBody(res).code, code, url)
    }
  })

  test('checkout: create, switch, each branch keeps its staged frames; bad input', async () => {
    await put('r/one')
    await commit('one')
    const noAuth = await h.app.inject({ method: 'POST', url: '/api/v1/checkout', payload: { branch: 'exp' } })
    assert.equal(noAuth.statusCode, 401)
    const created = await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: { branch: 'exp', create: true } })
    assert.equal(created.statusCode, 200, created.body)
    const main = (await h.app.inject({ url: '/api/v1/resolve' })).json().commit
    assert.deepEqual(created.json(), { branch: 'exp', commit: main })
    assert.equal((await h.app.inject({ url: '/api/v1/head' })).json().branch, 'exp')
    const onExp = await put('r/exp-only')
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/r/exp-only' })).json().cid, onExp)

    const back = await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: { branch: 'main' } })
    assert.deepEqual(back.json(), { branch: 'main', commit: main })
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/r/exp-only' })).statusCode, 404)
    const expState = (await h.app.inject({ url: '/api/v1/head?branch=exp' })).json()
    assert.equal(expState.current, false)
    assert.notEqual(expState.workingTree, (await h.app.inject({ url: '/api/v1/head' })).json().workingTree)

    const branches = (await h.app.inject({ url: '/api/v1/branches' })).json()
    assert.equal(branches.current, 'main')
    assert.deepEqual(branches.branches.map((b: { name: string }) => b.name), ['exp', 'main'])

    // An unborn branch: checked out with create before it has commits is still the current one.
    const cases: Array<[unknown, number, string]> = [
      [{ branch: 'nope' }, 404, 'ERR_REF_NOT_FOUND'],
      [{ branch: 'exp', create: true }, 409, 'ERR_REF_EXISTS'],
      [{ branch: 'bad name' }, 400, 'ERR_REF_INVALID'],
      [{ branch: 'x', force: true }, 400, 'ERR_VALIDATION'],
      [{ branch: 5 }, 400, 'ERR_VALIDATION'],
      [{}, 400, 'ERR_VALIDATION']
    ]
    for (const [payload, status, code] of cases) {
      const res = await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: payload as Record<string, unknown> })
      assert.equal(res.statusCode, status, `${JSON.stringify(payload)}: ${res.body}`)
      assert.equal(errorBody(res).code, code)
    }
    const malformed = await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: '{"branch":', headers: { 'content-type': 'application/json' } })
    assert.equal(malformed.statusCode, 400)
    assert.equal(errorBody(malformed).code, 'ERR_JSON_INVALID')
    assert.equal((await h.app.inject({ url: '/api/v1/head' })).json().branch, 'main')
  })

  test('frame import: NDJSON (LF, CRLF, blank lines) staged in one batch', async () => {
    await put('r/one')
    await commit('one')
    assert.equal((await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: { branch: 'exp', create: true } })).statusCode, 200)
    assert.equal((await h.authed({ method: 'POST', url: '/api/v1/checkout', payload: { branch: 'main' } })).statusCode, 200)
    // An import holds each id once: a second line for the same id is refused, nothing staged.
    const twice = await importFrames(ndjson(frame('imp/a'), frame('imp/a', { title: 'again' })), '?source=batch.ndjson')
    assert.equal(twice.statusCode, 400, twice.body)
    assert.equal(errorBody(twice).code, 'ERR_FRAME_INVALID')
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/imp/a' })).statusCode, 404)
    const body = ndjson(frame('imp/a', { title: 'again' }), '', frame('imp/b')).replace('\n', '\r\n')
    const res = await importFrames(body, '?source=batch.ndjson')
    assert.equal(res.statusCode, 201, res.body)
    assert.equal(res.json().frames, 2)
    assert.equal((await h.app.inject({ url: '/api/v1/head' })).json().workingTree, res.json().tree)
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/imp/a' })).json().frame.title, 'again')
    // The last line needs no newline; jsonl and text/plain are accepted too.
    const noNewline = await importFrames(JSON.stringify(frame('imp/c')), '', { 'content-type': 'application/jsonl' })
    assert.equal(noNewline.statusCode, 201, noNewline.body)
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/imp/c' })).statusCode, 200)
    const other = await importFrames(ndjson(frame('imp/on-exp')), '?branch=exp', { 'content-type': 'text/plain' })
    assert.equal(other.statusCode, 201, other.body)
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/imp/on-exp' })).statusCode, 404)
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/imp/on-exp?ref=' + other.json().tree })).statusCode, 200)
  })

  test('frame import bad input: the code the CLI gives, the line in the message, nothing staged', async () => {
    const before = (await h.app.inject({ url: '/api/v1/head' })).json().workingTree
    const cases: Array<[string, string, number, string, RegExp?]> = [
      [ndjson(frame('bad/a'), '{"id": "bad/b",'), '?source=in.ndjson', 400, 'ERR_JSON_INVALID', /in\.ndjson:2/],
      [ndjson(frame('bad/a'), { id: 'bad/b', kind: 'Not a kind!' }), '', 400, 'ERR_FRAME_INVALID', /request body:2/],
      [ndjson(frame('bad/a'), frame('bad/c', { links: [{ cid: { '/': MISSING } }] })), '', 422, 'ERR_LINK_UNRESOLVED'],
      [ndjson(frame('bad/a')), '?branch=bad%20name', 400, 'ERR_REF_INVALID'],
      [ndjson(frame('bad/a')), '?source=a%0Ab', 400, 'ERR_VALIDATION'],
      [ndjson(frame('bad/a')), '?unknown=1', 400, 'ERR_VALIDATION'],
      [ndjson(...Array.from({ length: 2000 }, (_, i) => frame(`big/${i}`))), '', 413, 'ERR_PAYLOAD_TOO_LARGE']
    ]
    for (const [body, query, status, code, message] of cases) {
      const res = await importFrames(body, query)
      assert.equal(res.statusCode, status, `${query} ${body.slice(0, 80)}: ${res.body}`)
      assert.equal(errorBody(res).code, code)
      if (message != null) assert.match(errorBody(res).message, message)
    }
    assert.equal((await h.app.inject({ url: '/api/v1/head' })).json().workingTree, before)
    assert.equal((await h.app.inject({ url: '/api/v1/frames/by-id/bad/a' })).statusCode, 404)

    const noAuth = await h.app.inject({ method: 'POST', url: '/api/v1/frames/import', payload: ndjson(frame('x')), headers: { 'content-type': 'application/x-ndjson' } })
    assert.equal(noAuth.statusCode, 401)
    const json = await h.authed({ method: 'POST', url: '/api/v1/frames/import', payload: frame('x') })
    assert.equal(json.statusCode, 415)
    assert.equal(errorBody(json).code, 'ERR_UNSUPPORTED_MEDIA_TYPE')
    const empty = await importFrames('')
    assert.ok(empty.statusCode === 201 || empty.statusCode === 400, empty.body)
  })

  test('frames: source names the input in messages; list from `after`', async () => {
    assert.equal((await importFrames(ndjson(frame('imp/a', { title: 'again' }), frame('imp/b'), frame('imp/c')))).statusCode, 201)
    const res = await h.authed({ method: 'POST', url: '/api/v1/frames?source=g.json', payload: frame('s/a', { links: [{ cid: { '/': MISSING } }] }) })
    assert.equal(res.statusCode, 422)
    assert.match(errorBody(res).message, /^g\.json: /)
    const list = await h.app.inject({ url: '/api/v1/frames?prefix=imp/&after=imp/a' })
    assert.equal(list.statusCode, 200, list.body)
    assert.deepEqual(list.json().frames.map((f: { id: string }) => f.id), ['imp/b', 'imp/c'])
  })

  test('sessions: paginated by name with a cursor; routes take a larger limit', async () => {
    for (const s of ['s/c', 's/a', 's/b']) {
      const res = await h.authed({ method: 'POST', url: `/api/v1/sessions/${encodeURIComponent(s)}/steps`, payload: { step: { op: 'thought', content: s } } })
      assert.equal(res.statusCode, 201, res.body)
    }
    const names: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 10; pages++) {
      const res: LightMyRequestResponse = await h.app.inject({ url: `/api/v1/sessions?limit=2${cursor != null ? `&cursor=${cursor}` : ''}` })
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json() as { sessions: Array<{ session: string }>, cursor: string | null }
      names.push(...body.sessions.map(s => s.session))
      cursor = body.cursor
      if (cursor == null) break
    }
    assert.deepEqual(names, ['s/a', 's/b', 's/c'])
    const bad = await h.app.inject({ url: '/api/v1/sessions?cursor=nonsense' })
    assert.equal(bad.statusCode, 400)
    assert.equal(errorBody(bad).code, 'ERR_VALIDATION')
    const routes = await h.app.inject({ url: `/api/v1/sessions/${encodeURIComponent('s/a')}/routes?limit=5000` })
    assert.equal(routes.statusCode, 200, routes.body)
    assert.equal(routes.json().routes.length, 1)
  })
})
