import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { decodeOtlpJson, decodeOtlpProtobuf, decodeRpcStatus, encodeRpcStatus } from '../../src/core/otlp.ts'
import { planSpanSteps } from '../../src/core/span-step.ts'

const run = promisify(execFile)
const span = (spanId: string, more: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ traceId: '0102030405060708090a0b0c0d0e0f10', spanId, name: 'x', startTimeUnixNano: '1700000000000000000', ...more })
const request = (spans: unknown[], resource: unknown[] = []): unknown => ({ resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ spans }] }] })
const code = (fn: () => unknown): string => {
  try { fn() } catch (err) { return (err as { code: string }).code }
  return 'no error'
}

describe('OTLP decoding and the span → step plan', () => {
  it('schemas/otlp/otlp.json is generated from the .proto files', async () => {
    await run(process.execPath, [fileURLToPath(new URL('../../scripts/gen-otlp-proto.ts', import.meta.url)), '--check'])
  })

  it('reads AnyValues as JSON: 64-bit ints as numbers when safe, else text; bytes as base64; no NaN', () => {
    const [s] = decodeOtlpJson(request([span('0a0a0a0a0a0a0a0a', {
      attributes: [
        { key: 'small', value: { intValue: '42' } },
        { key: 'big', value: { intValue: '9007199254740993' } },
        { key: 'nan', value: { doubleValue: 'NaN' } },
        { key: 'raw', value: { bytesValue: 'AQID' } },
        { key: 'list', value: { arrayValue: { values: [{ boolValue: true }, { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } }] } } },
        { key: '__proto__', value: { stringValue: 'kept as a key' } }
      ]
    })]))
    assert.equal(s?.attributes.small, 42)
    assert.equal(s?.attributes.big, '9007199254740993')
    assert.equal(s?.attributes.nan, 'NaN')
    assert.equal(s?.attributes.raw, 'AQID')
    assert.deepEqual(s?.attributes.list, [true, { k: 'v' }])
    assert.equal(Object.getOwnPropertyDescriptor(s?.attributes, '__proto__')?.value, 'kept as a key')
    assert.equal(Object.getPrototypeOf(s?.attributes), Object.prototype)
  })

  it('refuses bad ids, missing start times, deep values and cycles with ERR_OTLP_INVALID', () => {
    assert.equal(code(() => decodeOtlpJson(request([span('00000000000000000')]))), 'ERR_OTLP_INVALID')
    assert.equal(code(() => decodeOtlpJson(request([span('0000000000000000')]))), 'ERR_OTLP_INVALID', 'all-zero span id')
    assert.equal(code(() => decodeOtlpJson(request([span('0a0a0a0a0a0a0a0a', { traceId: 'not hex' })]))), 'ERR_OTLP_INVALID')
    assert.equal(code(() => decodeOtlpJson(request([span('0a0a0a0a0a0a0a0a', { startTimeUnixNano: undefined })]))), 'ERR_OTLP_INVALID')
    assert.equal(code(() => decodeOtlpJson({ resourceSpans: [{ scopeSpans: 'x' }] })), 'ERR_OTLP_INVALID')
    assert.equal(code(() => decodeOtlpJson([])), 'ERR_OTLP_INVALID')
    let deep: unknown = { stringValue: 'leaf' }
    for (let i = 0; i < 40; i++) deep = { arrayValue: { values: [deep] } }
    assert.equal(code(() => decodeOtlpJson(request([span('0a0a0a0a0a0a0a0a', { attributes: [{ key: 'd', value: deep }] })]))), 'ERR_OTLP_INVALID')
    assert.equal(code(() => decodeOtlpProtobuf(Uint8Array.from([0x0a, 0x05, 0x12]))), 'ERR_OTLP_INVALID')
    const cycle = decodeOtlpJson(request([span('0a0a0a0a0a0a0a0a', { parentSpanId: '0b0b0b0b0b0b0b0b' }), span('0b0b0b0b0b0b0b0b', { parentSpanId: '0a0a0a0a0a0a0a0a' })]))
    assert.equal(code(() => planSpanSteps(cycle)), 'ERR_OTLP_INVALID')
    const badSession = decodeOtlpJson(request([span('0a0a0a0a0a0a0a0a', { attributes: [{ key: 'framehub.session', value: { stringValue: 'has space' } }] })]))
    assert.equal(code(() => planSpanSteps(badSession)), 'ERR_OTLP_INVALID')
    const badRefs = decodeOtlpJson(request([span('0a0a0a0a0a0a0a0a', { attributes: [{ key: 'framehub.inputs', value: { intValue: 3 } }] })]))
    assert.equal(code(() => planSpanSteps(badRefs)), 'ERR_OTLP_INVALID')
  })

  it('plans parents before children, each span once; the session from the resource; op words from any GenAI name', () => {
    const spans = decodeOtlpJson(request([
      span('0c0c0c0c0c0c0c0c', { parentSpanId: '0b0b0b0b0b0b0b0b', attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'Search Memory' } }] }),
      span('0b0b0b0b0b0b0b0b', { parentSpanId: '0a0a0a0a0a0a0a0a', startTimeUnixNano: '1700000000005000000' }),
      span('0a0a0a0a0a0a0a0a', { startTimeUnixNano: '1700000000009000000' }),
      span('0a0a0a0a0a0a0a0a')
    ], [{ key: 'framehub.session', value: { stringValue: 'team/agent-1' } }]))
    const plans = planSpanSteps(spans)
    assert.deepEqual(plans.map(p => p.key.split('/')[1]), ['0a0a0a0a0a0a0a0a', '0b0b0b0b0b0b0b0b', '0c0c0c0c0c0c0c0c'])
    assert.deepEqual(plans.map(p => p.session), ['team/agent-1', 'team/agent-1', 'team/agent-1'])
    assert.deepEqual(plans.map(p => p.op), ['span', 'span', 'search_memory'])
  })

  it('google.rpc.Status carries framehub\'s code in an ErrorInfo', () => {
    const s = decodeRpcStatus(encodeRpcStatus(400, 'ERR_OTLP_INVALID', 'bad span'))
    assert.deepEqual(s, { code: 3, message: 'ERR_OTLP_INVALID: bad span', reason: 'ERR_OTLP_INVALID' })
  })
})
