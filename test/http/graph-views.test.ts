import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { encodeCursor } from '../../src/http/cursor.ts'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

interface GraphCommit { cid: string, parents: string[], message: string, time: number, forks: number }
interface GraphStep { cid: string, parents: string[], op: string, node: string, text: string }

describe('the graph views: GET /api/v1/commit-graph and /api/v1/sessions/{session}/graph', () => {
  let h: Harness
  const post = async (url: string, payload: Record<string, unknown>): Promise<any> => {
    const res = await h.authed({ method: 'POST', url, payload })
    assert.ok(res.statusCode < 300, `${url} → ${res.statusCode} ${res.body}`)
    return res.json()
  }
  before(async () => {
    h = await harness()
    // main: two commits; topic/a changes c/0 one way, main another; the merge keeps a fork.
    await post('/api/v1/frames', frame('c/0', { title: 'first' }))
    await post('/api/v1/commits', { message: 'first' })
    await post('/api/v1/branches', { name: 'topic/a' })
    await h.node.refs.checkout('topic/a')
    await post('/api/v1/frames', frame('c/0', { title: 'topic version' }))
    await post('/api/v1/commits', { message: 'topic change' })
    await h.node.refs.checkout('main')
    await post('/api/v1/frames', frame('c/0', { title: 'main version' }))
    await post('/api/v1/commits', { message: 'main change' })
    await post('/api/v1/merge', { ref: 'topic/a', message: 'merge topic/a' })
  })
  after(async () => { await h.close() })

  test('the commit graph is the log, newest first, with only parents, message, time and the number of forks', async () => {
    const graph = await h.app.inject({ url: '/api/v1/commit-graph?ref=main&limit=1000' })
    assert.equal(graph.statusCode, 200, graph.body)
    const log = (await h.app.inject({ url: '/api/v1/commits?ref=main&limit=1000' })).json() as { commits: Array<{ cid: string, commit: any }> }
    const body = graph.json() as { commits: GraphCommit[], cursor: string | null }
    assert.equal(body.cursor, null)
    assert.deepEqual(body.commits, log.commits.map(({ cid, commit }) => ({
      cid,
      parents: commit.parents.map((p: { '/': string }) => p['/']),
      message: commit.message,
      time: commit.time,
      forks: (commit.forks ?? []).length
    })))
    assert.deepEqual(body.commits.map(c => [c.message, c.parents.length, c.forks]), [['merge topic/a', 2, 1], ['main change', 1, 0], ['topic change', 1, 0], ['first', 0, 0]])
  })

  test('pages of the commit graph follow the cursor, in the order of /commits', async () => {
    const messages: string[] = []
    let cursor: string | null = null
    do {
      const res: Awaited<ReturnType<Harness['authed']>> = await h.app.inject({ url: `/api/v1/commit-graph?ref=main&limit=3${cursor != null ? `&cursor=${cursor}` : ''}` })
      assert.equal(res.statusCode, 200)
      const body = res.json() as { commits: GraphCommit[], cursor: string | null }
      messages.push(...body.commits.map(c => c.message))
      cursor = body.cursor
    } while (cursor != null)
    assert.deepEqual(messages, ['merge topic/a', 'main change', 'topic change', 'first'])
  })

  test('malformed commit-graph queries: 400 ERR_VALIDATION; an unknown ref 404; a cursor naming no commit 400 ERR_REF_INVALID', async () => {
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'ref=', 'cursor=', 'cursor=%25%25', `cursor=${encodeCursor({ h: 'x', n: 'y' })}`, 'extra=1']) {
      const res = await h.app.inject({ url: `/api/v1/commit-graph?${query}` })
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`)
      assert.equal(errorBody(res).code, 'ERR_VALIDATION', query)
    }
    const unknown = await h.app.inject({ url: '/api/v1/commit-graph?ref=nope' })
    assert.equal(unknown.statusCode, 404)
    assert.match(errorBody(unknown).code, /^ERR_REF_NOT_FOUND$/)
    const frameCid = ((await h.app.inject({ url: '/api/v1/frames/by-id/c/0' })).json() as { cid: string }).cid
    const notCommit = await h.app.inject({ url: `/api/v1/commit-graph?cursor=${encodeCursor({ h: frameCid, n: 1 })}` })
    assert.equal(notCommit.statusCode, 400)
    assert.equal(errorBody(notCommit).code, 'ERR_REF_INVALID')
    const post = await h.authed({ method: 'POST', url: '/api/v1/commit-graph', payload: {} })
    assert.equal(post.statusCode, 405)
    assert.match(errorBody(post).code, /^ERR_/)
  })

  test('the step graph: causal order, parents, op, writer and the content as a text of at most 120 characters', async () => {
    const path = '/api/v1/sessions/plan%2Fa/steps'
    const root = (await post(path, { step: { op: 'thought', content: 'start' } })).cid as string
    // 119 letters then a character outside the BMP (two UTF-16 units) and more: cut after it, never inside it.
    const long = `${'x'.repeat(119)}🌊 and the rest`
    const a = (await post(path, { step: { op: 'action', content: long }, parents: [root] })).cid as string
    const b = (await post(path, { step: { op: 'observation', content: { level: 3.9, unit: 'm' } }, parents: [root] })).cid as string
    const end = (await post(path, { step: { op: 'conclusion', content: 'joined' }, parents: [a, b] })).cid as string
    const res = await h.app.inject({ url: '/api/v1/sessions/plan%2Fa/graph?limit=1000' })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json() as { session: string, steps: GraphStep[], cursor: string | null }
    assert.equal(body.session, 'plan/a')
    assert.equal(body.cursor, null)
    const full = (await h.app.inject({ url: '/api/v1/sessions/plan%2Fa/steps?limit=1000' })).json() as { steps: Array<{ cid: string, step: any }> }
    assert.deepEqual(body.steps.map(s => s.cid), full.steps.map(s => s.cid))
    const by = new Map(body.steps.map(s => [s.cid, s]))
    assert.deepEqual(by.get(root), { cid: root, parents: [], op: 'thought', node: full.steps[0]?.step.node, text: 'start' })
    assert.equal(by.get(a)?.text, `${'x'.repeat(119)}🌊`)
    assert.equal([...(by.get(a)?.text ?? '')].length, 120)
    assert.equal(by.get(b)?.text, JSON.stringify({ level: 3.9, unit: 'm' }))
    assert.deepEqual(by.get(end)?.parents.sort(), [a, b].sort())
    for (const { cid, step } of full.steps) assert.deepEqual([by.get(cid)?.op, by.get(cid)?.node], [step.op, step.node])

    const first = (await h.app.inject({ url: '/api/v1/sessions/plan%2Fa/graph?limit=3' })).json() as { steps: GraphStep[], cursor: string }
    assert.equal(first.steps.length, 3)
    const rest = (await h.app.inject({ url: `/api/v1/sessions/plan%2Fa/graph?limit=3&cursor=${first.cursor}` })).json() as { steps: GraphStep[], cursor: string | null }
    assert.deepEqual([...first.steps, ...rest.steps].map(s => s.cid), body.steps.map(s => s.cid))
    assert.equal(rest.cursor, null)
  })

  test('malformed step-graph queries: 400 with a code; an unknown session 404 ERR_SESSION_NOT_FOUND', async () => {
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'cursor=', 'cursor=%25%25', 'extra=1', `cursor=${encodeCursor({ s: 'other', n: 1 })}`]) {
      const res = await h.app.inject({ url: `/api/v1/sessions/plan%2Fa/graph?${query}` })
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`)
      assert.equal(errorBody(res).code, 'ERR_VALIDATION', query)
    }
    const unknown = await h.app.inject({ url: '/api/v1/sessions/nobody/graph' })
    assert.equal(unknown.statusCode, 404)
    assert.equal(errorBody(unknown).code, 'ERR_SESSION_NOT_FOUND')
    const badName = await h.app.inject({ url: `/api/v1/sessions/${'s'.repeat(300)}/graph` })
    assert.equal(badName.statusCode, 400)
    assert.match(errorBody(badName).code, /^ERR_/)
  })
})
