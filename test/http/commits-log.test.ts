import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { encodeCursor } from '../../src/http/cursor.ts'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

describe('GET /api/v1/commits pages through commits.log', () => {
  let h: Harness
  let frameCid: string
  before(async () => {
    h = await harness()
    for (const id of ['a', 'b', 'c']) {
      const put = await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame(id) })
      frameCid = (put.json() as { cid: string }).cid
      assert.equal((await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: `add ${id}` } })).statusCode, 201)
    }
  })
  after(async () => { await h.close() })

  test('pages of one commit follow the cursor to the first commit', async () => {
    const messages: string[] = []
    let cursor: string | null = null
    do {
      const res: Awaited<ReturnType<Harness['authed']>> = await h.app.inject({ url: `/api/v1/commits?limit=1${cursor != null ? `&cursor=${cursor}` : ''}` })
      assert.equal(res.statusCode, 200)
      const body = res.json() as { commits: Array<{ commit: { message: string } }>, cursor: string | null }
      messages.push(...body.commits.map(c => c.commit.message))
      cursor = body.cursor
    } while (cursor != null)
    assert.deepEqual(messages, ['add c', 'add b', 'add a'])
  })

  test('a cursor naming a block that is not a commit is 400 ERR_REF_INVALID; one naming an absent block is 404', async () => {
    const notCommit = await h.app.inject({ url: `/api/v1/commits?cursor=${encodeCursor({ h: frameCid, n: 1 })}` })
    assert.equal(notCommit.statusCode, 400)
    assert.equal(errorBody(notCommit).code, 'ERR_REF_INVALID')
    const absent = await h.app.inject({ url: `/api/v1/commits?cursor=${encodeCursor({ h: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', n: 1 })}` })
    assert.equal(absent.statusCode, 404)
    assert.equal(errorBody(absent).code, 'ERR_BLOCK_NOT_FOUND')
  })
})
