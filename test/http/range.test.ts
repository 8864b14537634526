import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseRange } from '../../src/http/range.ts'
import { harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

describe('parseRange (range-parser, read as RFC 9110 14.1-14.2)', () => {
  const cases: Array<[string | undefined, number, ReturnType<typeof parseRange>]> = [
    [undefined, 10, null],
    ['bytes=0-3', 10, { start: 0, end: 3 }],
    [' bytes=2-4 ', 10, { start: 2, end: 4 }],
    ['bytes=7-', 10, { start: 7, end: 9 }],
    ['bytes=5-100', 10, { start: 5, end: 9 }],
    ['bytes=-3', 10, { start: 7, end: 9 }],
    // A suffix longer than the body is all of it.
    ['bytes=-100', 10, { start: 0, end: 9 }],
    ['bytes=-0', 10, 'unsatisfiable'],
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=100-200', 10, 'unsatisfiable'],
    ['bytes=0-0', 0, 'unsatisfiable'],
    ['bytes=-3', 0, 'unsatisfiable'],
    // Last before first: an invalid range, ignored.
    ['bytes=5-2', 10, null],
    ['bytes=5-2', 3, null],
    // Several ranges, other units, malformed: ignored (the whole body is sent).
    ['bytes=0-1,3-4', 10, null],
    ['bytes=0-1,50-60', 10, null],
    ['items=0-3', 10, null],
    ['bytes=-', 10, null],
    ['bytes=a-3', 10, null],
    ['bytes=1-2-3', 10, null],
    ['bytes', 10, null],
    ['', 10, null]
  ]
  for (const [header, size, expected] of cases) {
    test(`${JSON.stringify(header)} of ${size} bytes → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseRange(header, size), expected)
    })
  }
})

describe('attachment downloads with Range', () => {
  let h: Harness
  let cid: string
  before(async () => {
    h = await harness()
    const up = await h.authed({ method: 'POST', url: '/api/v1/attachments?name=abc.txt', payload: 'abcdefghijklmno', headers: { 'content-type': 'text/plain' } })
    assert.equal(up.statusCode, 201)
    cid = (up.json() as { cid: string }).cid
  })
  after(async () => { await h.close() })

  const get = async (range: string): ReturnType<Harness['authed']> => await h.app.inject({ url: `/api/v1/attachments/${cid}`, headers: { range } })

  test('a suffix longer than the file is all of it (206)', async () => {
    const res = await get('bytes=-100')
    assert.equal(res.statusCode, 206)
    assert.equal(res.headers['content-range'], 'bytes 0-14/15')
    assert.equal(res.body, 'abcdefghijklmno')
  })

  test('several ranges and an invalid range are ignored (200, whole file)', async () => {
    for (const range of ['bytes=0-1,3-4', 'bytes=5-2', 'items=0-1']) {
      const res = await get(range)
      assert.equal(res.statusCode, 200, range)
      assert.equal(res.body, 'abcdefghijklmno', range)
      assert.equal(res.headers['content-range'], undefined, range)
    }
  })

  test('an empty suffix or a start past the end is 416 with Content-Range: bytes */size', async () => {
    for (const range of ['bytes=-0', 'bytes=15-']) {
      const res = await get(range)
      assert.equal(res.statusCode, 416, range)
      assert.equal(res.headers['content-range'], 'bytes */15', range)
      assert.equal((res.json() as { code: string }).code, 'ERR_RANGE_NOT_SATISFIABLE', range)
    }
  })

  test('a range in the middle is 206 with its bytes', async () => {
    const res = await get('bytes=3-5')
    assert.equal(res.statusCode, 206)
    assert.equal(res.headers['content-range'], 'bytes 3-5/15')
    assert.equal(res.headers['content-length'], '3')
    assert.equal(res.body, 'def')
  })
})
