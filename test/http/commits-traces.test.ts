import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

describe('/api/v1 commits, refs and traces', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })

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

  test('commit, log with pagination, show, diff', async () => {
    const empty = await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: 'nothing' } })
    assert.equal(empty.statusCode, 409)
    assert.equal(errorBody(empty).code, 'ERR_NOTHING_TO_COMMIT')
    const noLog = await h.app.inject({ url: '/api/v1/commits' })
    assert.equal(noLog.statusCode, 404)

    const commits: string[] = []
    for (let i = 0; i < 5; i++) {
      await put(`c/${i}`)
      commits.push(await commit(`commit ${i}`))
    }
    const seen: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 10; pages++) {
      const res: LightMyRequestResponse = await h.app.inject({ url: `/api/v1/commits?limit=2${cursor != null ? `&cursor=${cursor}` : ''}` })
      assert.equal(res.statusCode, 200)
      const body = res.json() as { commits: Array<{ cid: string, commit: { message: string } }>, cursor: string | null }
      seen.push(...body.commits.map(c => c.cid))
      cursor = body.cursor
      if (cursor == null) break
    }
    assert.deepEqual(seen, [...commits].reverse())

    const show = await h.app.inject({ url: '/api/v1/commits/main~1' })
    assert.equal(show.statusCode, 200)
    assert.equal(show.json().type, 'commit')
    assert.equal(show.json().cid, commits[3])
    const showFrame = await h.app.inject({ url: `/api/v1/commits/${await put('c/0')}` })
    assert.equal(showFrame.json().type, 'frame')

    const diff = await h.app.inject({ url: `/api/v1/diff?from=${commits[0] as string}&to=main` })
    assert.equal(diff.statusCode, 200)
    assert.deepEqual(diff.json().added.map((c: { id: string }) => c.id), ['c/1', 'c/2', 'c/3', 'c/4'])
  })

  test('branches: create, list, merge, forks, delete', async () => {
    const created = await h.authed({ method: 'POST', url: '/api/v1/branches', payload: { name: 'topic/a' } })
    assert.equal(created.statusCode, 201)
    const dup = await h.authed({ method: 'POST', url: '/api/v1/branches', payload: { name: 'topic/a' } })
    assert.equal(dup.statusCode, 409)
    assert.equal(errorBody(dup).code, 'ERR_REF_EXISTS')
    const bad = await h.authed({ method: 'POST', url: '/api/v1/branches', payload: { name: 'bad name' } })
    assert.equal(bad.statusCode, 400)
    assert.equal(errorBody(bad).code, 'ERR_REF_INVALID')
    const list = await h.app.inject({ url: '/api/v1/branches' })
    assert.deepEqual(list.json().branches.map((b: { name: string }) => b.name).sort(), ['main', 'topic/a'])

    // Diverge: topic/a changes c/0 one way (through the service: checkout is not an HTTP verb), main another.
    await h.node.refs.checkout('topic/a')
    await put('c/0', { title: 'topic version' })
    await commit('topic change')
    await h.node.refs.checkout('main')
    await put('c/0', { title: 'main version' })
    await commit('main change')

    const merged = await h.authed({ method: 'POST', url: '/api/v1/merge', payload: { ref: 'topic/a' } })
    assert.equal(merged.statusCode, 200, merged.body)
    assert.equal(merged.json().mode, 'merge')
    assert.deepEqual(merged.json().forks.map((f: { id: string }) => f.id), ['c/0'])
    const again = await h.authed({ method: 'POST', url: '/api/v1/merge', payload: { ref: 'topic/a' } })
    assert.equal(again.json().mode, 'up-to-date')
    const forks = await h.app.inject({ url: '/api/v1/forks?branch=main' })
    assert.equal(forks.json().forks.length, 1)

    const unknownRef = await h.authed({ method: 'POST', url: '/api/v1/merge', payload: { ref: 'nope' } })
    assert.equal(unknownRef.statusCode, 404)
    const extra = await h.authed({ method: 'POST', url: '/api/v1/merge', payload: { ref: 'topic/a', strategy: 'ours' } })
    assert.equal(extra.statusCode, 400)
    assert.equal(errorBody(extra).code, 'ERR_VALIDATION')

    const delMain = await h.authed({ method: 'DELETE', url: '/api/v1/branches/main' })
    assert.equal(delMain.statusCode, 400)
    assert.equal(errorBody(delMain).code, 'ERR_USAGE')
    const del = await h.authed({ method: 'DELETE', url: '/api/v1/branches/topic/a' })
    assert.equal(del.statusCode, 204)
    const delAgain = await h.authed({ method: 'DELETE', url: '/api/v1/branches/topic/a' })
    assert.equal(delAgain.statusCode, 404)
    const noAuth = await h.app.inject({ method: 'POST', url: '/api/v1/branches', payload: { name: 'x' } })
    assert.equal(noAuth.statusCode, 401)
  })

  test('trace sessions: append, branch and merge routes, causal order, heads, routes', async () => {
    const session = encodeURIComponent('goal/solve')
    const append = async (body: unknown): Promise<{ cid: string, heads: string[] }> => {
      const res = await h.authed({ method: 'POST', url: `/api/v1/sessions/${session}/steps`, payload: body as Record<string, unknown> })
      assert.equal(res.statusCode, 201, res.body)
      return res.json()
    }
    const root = await append({ step: { op: 'thought', content: 'start' } })
    const left = await append({ step: { op: 'action', content: 'left' } })
    const right = await append({ step: { op: 'action', content: 'right' }, parents: [root.cid] })
    assert.deepEqual(right.heads.sort(), [left.cid, right.cid].sort())
    const joined = await append({ step: { op: 'conclusion', content: 'both' }, parents: [left.cid, right.cid] })
    assert.deepEqual(joined.heads, [joined.cid])

    const steps = await h.app.inject({ url: `/api/v1/sessions/${session}/steps?limit=2` })
    assert.equal(steps.statusCode, 200)
    const first = steps.json() as { steps: Array<{ cid: string, step: { op: string } }>, cursor: string }
    assert.equal(first.steps[0]?.cid, root.cid)
    const rest = (await h.app.inject({ url: `/api/v1/sessions/${session}/steps?cursor=${first.cursor}` })).json() as typeof first
    const order = [...first.steps, ...rest.steps].map(s => s.cid)
    assert.equal(order.length, 4)
    assert.equal(order[3], joined.cid)

    const heads = await h.app.inject({ url: `/api/v1/sessions/${session}/heads` })
    assert.deepEqual(heads.json(), { session: 'goal/solve', heads: [joined.cid] })
    const routes = await h.app.inject({ url: `/api/v1/sessions/${session}/routes` })
    assert.equal(routes.json().routes.length, 2)
    const sessions = await h.app.inject({ url: '/api/v1/sessions' })
    assert.deepEqual(sessions.json().sessions.map((s: { session: string }) => s.session), ['goal/solve'])
  })

  test('trace bad input', async () => {
    const url = '/api/v1/sessions/s1/steps'
    const cases: Array<[unknown, number, string]> = [
      [{ step: { op: 'Thought', content: 1 } }, 400, 'ERR_TRACE_STEP_INVALID'],
      [{ step: { op: 'thought' } }, 400, 'ERR_TRACE_STEP_INVALID'],
      [{ step: { op: 'thought', content: 1, extra: true } }, 400, 'ERR_TRACE_STEP_INVALID'],
      [{ op: 'thought', content: 1 }, 400, 'ERR_TRACE_STEP_INVALID'],
      [{ step: { op: 'thought', content: 1 }, parents: ['nope'] }, 400, 'ERR_TRACE_STEP_INVALID'],
      [{ step: { op: 'thought', content: 1 }, parents: ['bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'] }, 422, 'ERR_LINK_UNRESOLVED'],
      [{ step: { op: 'thought', content: 1, inputs: [{ '/': 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' }] } }, 422, 'ERR_LINK_UNRESOLVED']
    ]
    for (const [payload, status, code] of cases) {
      const res = await h.authed({ method: 'POST', url, payload: payload as Record<string, unknown> })
      assert.equal(res.statusCode, status, JSON.stringify(payload) + res.body)
      assert.equal(errorBody(res).code, code, JSON.stringify(payload))
    }
    const badName = await h.authed({ method: 'POST', url: `/api/v1/sessions/${encodeURIComponent('a b')}/steps`, payload: { step: { op: 'thought', content: 1 } } })
    assert.equal(badName.statusCode, 400)
    const unknown = await h.app.inject({ url: '/api/v1/sessions/none/heads' })
    assert.equal(unknown.statusCode, 404)
    assert.equal(errorBody(unknown).code, 'ERR_SESSION_NOT_FOUND')
    assert.equal((await h.app.inject({ url: '/api/v1/sessions/none/steps' })).statusCode, 404)
    assert.equal((await h.app.inject({ url: '/api/v1/sessions/none/routes' })).statusCode, 404)
    const noAuth = await h.app.inject({ method: 'POST', url, payload: { step: { op: 'thought', content: 1 } } })
    assert.equal(noAuth.statusCode, 401)
  })

  test('verify reports a coherent history', async () => {
    const res = await h.app.inject({ url: '/api/v1/verify' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.json().ok, true, res.body)
    assert.ok(res.json().blocks > 5)
    const bad = await h.app.inject({ url: '/api/v1/verify?ref=nope' })
    assert.equal(bad.statusCode, 404)
    const missing = await h.app.inject({ url: '/api/v1/verify?ref=bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' })
    assert.ok(missing.statusCode === 404 || missing.json().ok === false)
  })
})
