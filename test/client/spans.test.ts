import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CID } from 'multiformats/cid'
import type { NodeServices } from '../../src/node.ts'
import { connectTo, harness } from '../http/helpers.ts'
import type { Harness } from '../http/helpers.ts'

const request = (traceId: string, spans: Array<[spanId: string, parentSpanId?: string]>): string => JSON.stringify({
  resourceSpans: [{ scopeSpans: [{ spans: spans.map(([spanId, parentSpanId]) => ({ traceId, spanId, parentSpanId, name: spanId, startTimeUnixNano: '1700000000000000000' })) }] }]
})

describe('the daemon\'s client gives the span import and the daemon\'s identity as the in-process node does', () => {
  let h: Harness
  let remote: NodeServices
  before(async () => {
    h = await harness()
    remote = await connectTo(h)
  })
  after(async () => {
    await remote.close()
    await h.close()
  })

  test('connecting reads the daemon\'s peer id from /health', () => {
    assert.equal(remote.peerId, h.node.peerId)
  })

  test('import: counts, sessions and steps with CIDs as CIDs; a waiting span has no CID', async () => {
    const traceId = '11112222333344445555666677778888'
    const r = await remote.spans.import({ encoding: 'json', body: request(traceId, [['00000000000000a1'], ['00000000000000b2', '00000000000000a1'], ['00000000000000c3', '00000000000000ff']]) }, { waitForParentMs: 60_000 })
    assert.deepEqual([r.spans, r.written, r.existing, r.waiting], [3, 2, 0, 1])
    const steps = await Array.fromAsync(h.node.traces.show(`otel/${traceId}`))
    assert.deepEqual(r.sessions.map(s => s.session), [`otel/${traceId}`])
    assert.ok(r.sessions[0]?.heads.every(c => c instanceof CID))
    assert.deepEqual(r.steps.map(s => [s.spanId, s.status, s.cid?.toString()]), [
      ['00000000000000a1', 'written', steps[0]?.cid.toString()],
      ['00000000000000b2', 'written', steps[1]?.cid.toString()],
      ['00000000000000c3', 'waiting', undefined]
    ])
    assert.ok(!('cid' in (r.steps[2] as object)), 'no cid key on a waiting span')
    await assert.rejects(remote.spans.import({ encoding: 'json', body: '{"resourceSpans":' }), { code: 'ERR_JSON_INVALID' })
  })

  test('flush: the spans that waited, written as roots', async () => {
    const traceId = '99990000aaaabbbbccccddddeeeeffff'
    const r = await remote.spans.import({ encoding: 'json', body: request(traceId, [['00000000000000d4', '00000000000000ee']]) }, { waitForParentMs: 60_000 })
    assert.equal(r.waiting, 1)
    assert.deepEqual(await remote.spans.flush({ olderThanMs: 60_000 }), { written: 0 }, 'not waited long enough')
    const flushed = await remote.spans.flush()
    assert.ok(flushed.written >= 1, `written ${flushed.written}`)
    assert.deepEqual(Object.keys(flushed), ['written'])
    assert.equal((await Array.fromAsync(h.node.traces.show(`otel/${traceId}`))).length, 1)
  })
})
