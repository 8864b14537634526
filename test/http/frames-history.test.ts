import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

interface FrameRecordView { id: string, cid: string, frame: Record<string, unknown> }
interface StepView { cid: string, step: { op: string, content: unknown, outputs: Array<{ '/': string }>, session: string } }
interface HistoryView {
  id: string
  branch: string | null
  head: string | null
  staged: { cid: string | null, steps: StepView[] } | null
  versions: Array<{ commit: string, author: string, time: number, message: string, cid: string | null, steps: StepView[] }>
  stepsComplete: boolean
}

describe('GET /api/v1/frames/{id}/history and POST /api/v1/frames/{id}/revert', () => {
  let h: Harness
  const cids: Record<string, string> = {}
  const put = async (id: string, body: unknown): Promise<string> => {
    const res = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(id, { body }) })
    assert.equal(res.statusCode, 201, res.body)
    return res.json<FrameRecordView>().cid
  }
  const commit = async (message: string): Promise<string> => {
    const res = await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message } })
    assert.equal(res.statusCode, 201, res.body)
    return (res.json() as { commit: string }).commit
  }

  before(async () => {
    h = await harness()
    for (const id of ['notes/deep/x', 'plain', 'import']) {
      cids[`${id}:1`] = await put(id, 1)
    }
    const step = await h.authed({ method: 'POST', url: '/api/v1/sessions/why/steps', payload: { step: { op: 'conclusion', content: 'first take', outputs: [{ '/': cids['notes/deep/x:1'] }] } } })
    assert.equal(step.statusCode, 201, step.body)
    cids.step = (step.json() as { cid: string }).cid
    cids.c1 = await commit('first')
    for (const id of ['notes/deep/x', 'plain', 'import']) cids[`${id}:2`] = await put(id, 2)
    cids.c2 = await commit('second')
  })
  after(async () => { await h.close() })

  test('answers every version newest first, with the steps that name it; ids with slashes, without, and clashing with a route', async () => {
    for (const [id, url] of [
      ['notes/deep/x', '/api/v1/frames/notes/deep/x/history'],
      ['notes/deep/x', '/api/v1/frames/notes%2Fdeep%2Fx/history'],
      ['plain', '/api/v1/frames/plain/history'],
      ['import', '/api/v1/frames/import/history']
    ] as const) {
      const res = await h.app.inject({ url })
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
      const body = res.json<HistoryView>()
      assert.equal(body.id, id)
      assert.equal(body.branch, 'main')
      assert.equal(body.head, cids.c2)
      assert.equal(body.staged, null)
      assert.deepEqual(body.versions.map(v => [v.message, v.commit, v.cid]), [['second', cids.c2, cids[`${id}:2`]], ['first', cids.c1, cids[`${id}:1`]]])
      assert.equal(body.versions[0]?.author, h.node.peerId)
      assert.equal(body.stepsComplete, true)
    }
    const deep = (await h.app.inject({ url: '/api/v1/frames/notes/deep/x/history' })).json<HistoryView>()
    assert.deepEqual(deep.versions[1]?.steps.map(s => [s.cid, s.step.op, s.step.content, s.step.session]), [[cids.step, 'conclusion', 'first take', 'why']])
    const limited = await h.app.inject({ url: '/api/v1/frames/plain/history?limit=1&ref=main' })
    assert.deepEqual(limited.json<HistoryView>().versions.map(v => v.message), ['second'])
    const atCommit = await h.app.inject({ url: `/api/v1/frames/plain/history?ref=${cids.c1 as string}` })
    assert.equal(atCommit.json<HistoryView>().branch, null)
    assert.deepEqual(atCommit.json<HistoryView>().versions.map(v => v.message), ['first'])
  })

  test('bad input: unknown id 404, unknown ref 404, mistyped CID ref 400, bad limit 400, other actions 404', async () => {
    const cases: Array<[string, number, string]> = [
      ['/api/v1/frames/never/written/history', 404, 'ERR_FRAME_NOT_FOUND'],
      ['/api/v1/frames/plain/history?ref=nope', 404, 'ERR_REF_NOT_FOUND'],
      ['/api/v1/frames/plain/history?ref=bafyreiabcdefghijklmnopqrstuvwxyz234567', 400, 'ERR_CID_INVALID'],
      ['/api/v1/frames/plain/history?limit=0', 400, 'ERR_VALIDATION'],
      ['/api/v1/frames/plain/history?limit=x', 400, 'ERR_VALIDATION'],
      ['/api/v1/frames/plain/history?other=1', 400, 'ERR_VALIDATION'],
      ['/api/v1/frames/plain/whatever', 404, 'ERR_NOT_FOUND'],
      ['/api/v1/frames/a/b/c', 404, 'ERR_NOT_FOUND'],
      ['/api/v1/frames//history', 404, 'ERR_NOT_FOUND']
    ]
    for (const [url, status, code] of cases) {
      const res = await h.app.inject({ url })
      assert.equal(res.statusCode, status, `${url}: ${res.body}`)
      assert.equal(errorBody(res).code, code, url)
    }
  })

  test('revert stages an earlier version; a CID of anything else is refused, a malformed one is 400', async () => {
    const res = await h.authed({ method: 'POST', url: '/api/v1/frames/notes/deep/x/revert', payload: { to: cids['notes/deep/x:1'] } })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json<FrameRecordView>().cid, cids['notes/deep/x:1'])
    assert.equal(res.headers.etag, `"${cids['notes/deep/x:1'] as string}"`)
    const history = (await h.app.inject({ url: '/api/v1/frames/notes/deep/x/history' })).json<HistoryView>()
    assert.equal(history.staged?.cid, cids['notes/deep/x:1'])
    assert.deepEqual(history.staged?.steps.map(s => s.cid), [cids.step])

    const reverted = await h.authed({ method: 'POST', url: '/api/v1/frames/import/revert', payload: { to: cids['import:1'] } })
    assert.equal(reverted.statusCode, 200, reverted.body)

    const cases: Array<[string, unknown, Record<string, string>, number, string]> = [
      ['/api/v1/frames/plain/revert', { to: cids['notes/deep/x:2'] }, {}, 404, 'ERR_FRAME_NOT_FOUND'],
      ['/api/v1/frames/plain/revert', { to: cids.c1 }, {}, 404, 'ERR_FRAME_NOT_FOUND'],
      ['/api/v1/frames/plain/revert', { to: 'not-a-cid' }, {}, 400, 'ERR_CID_INVALID'],
      ['/api/v1/frames/plain/revert', {}, {}, 400, 'ERR_VALIDATION'],
      ['/api/v1/frames/plain/revert', { to: cids['plain:1'], more: 1 }, {}, 400, 'ERR_VALIDATION'],
      ['/api/v1/frames/plain/revert', { to: cids['plain:1'] }, { 'if-match': `"${cids['plain:1'] as string}"` }, 412, 'ERR_CONFLICT'],
      ['/api/v1/frames/plain/revert', { to: cids['plain:1'] }, { 'if-match': '"nope"' }, 400, 'ERR_CID_INVALID'],
      ['/api/v1/frames/plain/undo', { to: cids['plain:1'] }, {}, 404, 'ERR_NOT_FOUND']
    ]
    for (const [url, payload, headers, status, code] of cases) {
      const r = await h.authed({ method: 'POST', url, payload: payload as Record<string, unknown>, headers })
      assert.equal(r.statusCode, status, `${url} ${JSON.stringify(payload)}: ${r.body}`)
      assert.equal(errorBody(r).code, code, `${url} ${JSON.stringify(payload)}`)
    }
    const noToken = await h.app.inject({ method: 'POST', url: '/api/v1/frames/plain/revert', payload: { to: cids['plain:1'] } })
    assert.equal(noToken.statusCode, 401)
    const ok = await h.authed({ method: 'POST', url: '/api/v1/frames/plain/revert', payload: { to: cids['plain:1'] }, headers: { 'if-match': `"${cids['plain:2'] as string}"` } })
    assert.equal(ok.statusCode, 200, ok.body)
  })

  test('the OpenAPI document lists both operations', async () => {
    const doc = (await h.app.inject({ url: '/docs/json' })).json<{ paths: Record<string, Record<string, unknown>> }>()
    const paths = Object.entries(doc.paths).filter(([, ops]) => 'get' in ops || 'post' in ops).map(([p]) => p)
    assert.ok(paths.some(p => p.startsWith('/api/v1/frames/') && p !== '/api/v1/frames/import' && !p.includes('by-id') && !p.includes('{cid}')), paths.join(' '))
  })
})
