import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import { context, trace } from '@opentelemetry/api'
import type { Span, Tracer } from '@opentelemetry/api'
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node'
import { CID } from 'multiformats/cid'
import { decodeRpcStatus } from '../../src/core/otlp.ts'
import { createNode } from '../../src/node.ts'
import { startDaemonProcess } from '../helpers/daemon.ts'
import type { DaemonProcess } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'

interface ExportResult { code: number, error?: Error & { code?: number, data?: string } }
interface SpanExporterLike { export (spans: ReadableSpan[], done: (r: ExportResult) => void): void, shutdown (): Promise<void> }

/** Sends spans through a stock OTLP exporter and waits for its result. */
async function exportWith (exporter: SpanExporterLike, spans: ReadableSpan[]): Promise<ExportResult> {
  return await new Promise(resolve => { exporter.export(spans, resolve) })
}

/**
 * An agent-shaped trace, recorded by the stock SDK: invoke_agent → three execute_tool children →
 * an answering chat span. Returns the finished spans (children end first, as in a real run).
 */
function agentTrace (tracer: Tracer, memory: InMemorySpanExporter, extra: Record<string, string | string[]> = {}): { spans: ReadableSpan[], traceId: string } {
  memory.reset()
  const agent: Span = tracer.startSpan('invoke_agent travel-planner', { attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'travel-planner', ...extra } })
  const inside = trace.setSpan(context.active(), agent)
  for (const tool of ['weather', 'flights', 'hotels']) {
    const call = tracer.startSpan(`execute_tool ${tool}`, { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool, ...extra } }, inside)
    call.end()
  }
  const chat = tracer.startSpan('chat gpt-x', { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-x', 'gen_ai.usage.output_tokens': 42, ...extra } }, inside)
  chat.addEvent('gen_ai.choice', { 'gen_ai.output': 'Go on Tuesday: sunny, cheap flights.' })
  chat.end()
  agent.end()
  return { spans: memory.getFinishedSpans().slice(), traceId: agent.spanContext().traceId }
}

describe('OTLP receiver: the stock OpenTelemetry exporters into a daemon (POST /v1/traces)', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let daemon: DaemonProcess
  let token: string
  let provider: NodeTracerProvider
  let tracer: Tracer
  const memory = new InMemorySpanExporter()
  const url = (): string => `${daemon.info.url}/v1/traces`
  const headers = (): Record<string, string> => ({ authorization: `Bearer ${token}` })
  const post = async (body: string | Uint8Array, type: string, more: Record<string, string> = {}): Promise<Response> =>
    await fetch(url(), { method: 'POST', headers: { ...headers(), 'content-type': type, ...more }, body })
  const api = async <T>(path: string): Promise<T> => await (await fetch(`${daemon.info.url}/api/v1${path}`)).json() as T
  const stepsOf = async (session: string) => (await api<{ steps: Array<{ cid: string, step: { op: string, parents: Array<{ '/': string }>, time: number, content: Record<string, unknown>, inputs: Array<{ '/': string }>, outputs: Array<{ '/': string }> } }> }>(`/sessions/${encodeURIComponent(session)}/steps`)).steps

  before(async () => {
    ({ dir, cleanup } = await tempDir())
    const repo = join(dir, 'repo')
    const init = await runCli(['--repo', repo, 'init', '--json'])
    assert.equal(init.code, 0, init.stderr)
    daemon = await startDaemonProcess(repo)
    token = (JSON.parse(await readFile(join(repo, 'api.json'), 'utf8')) as { token: string }).token
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] })
    tracer = provider.getTracer('travel-agent', '1.0.0')
  })
  after(async () => {
    await provider.shutdown()
    await daemon.stop()
    await cleanup()
  })

  it('the JSON exporter\'s agent trace arrives as a session: one signed step per span, the agent\'s routes', async () => {
    const { spans, traceId } = agentTrace(tracer, memory)
    const exporter = new JsonExporter({ url: url(), headers: headers() })
    const r = await exportWith(exporter, spans)
    assert.equal(r.code, 0, r.error?.message)
    await exporter.shutdown()

    const session = `otel/${traceId}`
    const steps = await stepsOf(session)
    assert.equal(steps.length, 5)
    // Causal order: the agent first, its children after it (those that start in the same ms by span id).
    assert.equal(steps[0]?.step.op, 'invoke_agent')
    assert.deepEqual(steps.slice(1).map(s => s.step.op).sort(), ['chat', 'execute_tool', 'execute_tool', 'execute_tool'])
    const agent = steps[0] as (typeof steps)[number]
    assert.deepEqual(agent.step.parents, [])
    for (const s of steps.slice(1)) assert.deepEqual(s.step.parents, [{ '/': agent.cid }])
    const agentSpan = spans.find(s => s.name.startsWith('invoke_agent')) as ReadableSpan
    // Step time: the span's start, in ms.
    assert.equal(agent.step.time, agentSpan.startTime[0] * 1000 + Math.floor(agentSpan.startTime[1] / 1e6))
    assert.equal(agent.step.content.name, 'invoke_agent travel-planner')
    assert.equal(agent.step.content.spanId, agentSpan.spanContext().spanId)
    assert.deepEqual((agent.step.content.scope as { name: string }).name, 'travel-agent')
    const chat = steps.find(s => s.step.op === 'chat') as (typeof steps)[number]
    assert.equal((chat.step.content.attributes as Record<string, unknown>)['gen_ai.usage.output_tokens'], 42)
    assert.deepEqual((chat.step.content.events as Array<{ name: string, attributes: unknown }>)[0]?.attributes, { 'gen_ai.output': 'Go on Tuesday: sunny, cheap flights.' })

    const { routes } = await api<{ routes: string[][] }>(`/sessions/${encodeURIComponent(session)}/routes`)
    assert.equal(routes.length, 4, 'agent → each tool, agent → answer')
    for (const route of routes) assert.equal(route[0], agent.cid, 'each route starts at the agent')
    const heads = await api<{ heads: string[] }>(`/sessions/${encodeURIComponent(session)}/heads`)
    assert.deepEqual(new Set(heads.heads), new Set(steps.slice(1).map(s => s.cid)))

    // Signed by the daemon's node: `verify` checks every step's signature.
    const shown = await daemon.cli(['trace', 'show', session, '--json'])
    assert.equal(shown.code, 0, shown.stderr)
    assert.equal(shown.json.length, 5)
    assert.equal(shown.json[0].node, daemon.info.peerId)
  })

  it('exporting the same spans again, as JSON or protobuf, writes no new step', async () => {
    const { spans, traceId } = agentTrace(tracer, memory)
    const json = new JsonExporter({ url: url(), headers: headers(), compression: 'gzip' as never })
    assert.equal((await exportWith(json, spans)).code, 0)
    const session = `otel/${traceId}`
    const first = (await stepsOf(session)).map(s => s.cid)
    assert.equal(first.length, 5)
    const proto = new ProtoExporter({ url: url(), headers: headers() })
    assert.equal((await exportWith(proto, spans)).code, 0)
    assert.equal((await exportWith(json, spans)).code, 0)
    assert.deepEqual((await stepsOf(session)).map(s => s.cid), first)
    await json.shutdown()
    await proto.shutdown()
  })

  it('the protobuf exporter (gzip) gives the same session shape, and its answer is a protobuf ExportTraceServiceResponse', async () => {
    const { spans, traceId } = agentTrace(tracer, memory)
    const exporter = new ProtoExporter({ url: url(), headers: headers(), compression: 'gzip' as never })
    const r = await exportWith(exporter, spans)
    assert.equal(r.code, 0, r.error?.message)
    await exporter.shutdown()
    const steps = await stepsOf(`otel/${traceId}`)
    assert.equal(steps[0]?.step.op, 'invoke_agent')
    assert.deepEqual(steps.slice(1).map(s => s.step.op).sort(), ['chat', 'execute_tool', 'execute_tool', 'execute_tool'])
    for (const s of steps.slice(1)) assert.deepEqual(s.step.parents, [{ '/': steps[0]?.cid }])
  })

  it('spans exported one by one as they end (children before their parent) wait for it: the session has its routes once the parent arrives', async () => {
    const { spans, traceId } = agentTrace(tracer, memory)
    const exporter = new ProtoExporter({ url: url(), headers: headers() })
    const session = `otel/${traceId}`
    // A SimpleSpanProcessor's order: each span alone, as it ends; the agent ends last.
    for (const span of spans.slice(0, -1)) assert.equal((await exportWith(exporter, [span])).code, 0)
    const early = await fetch(`${daemon.info.url}/api/v1/sessions/${encodeURIComponent(session)}/steps`)
    assert.equal(early.status, 404, 'the children wait (kept in the repository), no step yet')
    assert.equal((await exportWith(exporter, [spans.at(-1) as ReadableSpan])).code, 0)
    await exporter.shutdown()
    const steps = await stepsOf(session)
    assert.equal(steps.length, 5)
    assert.equal(steps[0]?.step.op, 'invoke_agent')
    for (const s of steps.slice(1)) assert.deepEqual(s.step.parents, [{ '/': steps[0]?.cid }])
    const { routes } = await api<{ routes: string[][] }>(`/sessions/${encodeURIComponent(session)}/routes`)
    assert.equal(routes.length, 4)
  })

  it('framehub.session, framehub.op and framehub.inputs/outputs name the session, the op and the frames', async () => {
    const put = await daemon.cli(['frame', 'put', '-', '--json'], { input: JSON.stringify({ id: 'trips/paris', kind: 'fact', body: 'Paris in May' }) })
    assert.equal(put.code, 0, put.stderr)
    const { spans } = agentTrace(tracer, memory, { 'framehub.session': 'agents/travel', 'framehub.inputs': 'trips/paris' })
    const last = spans.at(-1) as ReadableSpan
    ;(last.attributes as Record<string, unknown>)['framehub.outputs'] = [put.json.cid]
    ;(last.attributes as Record<string, unknown>)['framehub.op'] = 'conclusion'
    const exporter = new JsonExporter({ url: url(), headers: headers() })
    assert.equal((await exportWith(exporter, spans)).code, 0)
    await exporter.shutdown()
    const steps = await stepsOf('agents/travel')
    assert.equal(steps.length, 5)
    assert.equal(steps[0]?.step.op, 'conclusion')
    for (const s of steps) assert.deepEqual(s.step.inputs, [{ '/': put.json.cid }])
    assert.deepEqual(steps[0]?.step.outputs, [{ '/': put.json.cid }])
  })

  it('a span naming a frame that is not there refuses the whole export (422 ERR_LINK_UNRESOLVED), writing nothing', async () => {
    const { spans, traceId } = agentTrace(tracer, memory)
    ;((spans[1] as ReadableSpan).attributes as Record<string, unknown>)['framehub.outputs'] = 'no/such-frame'
    const exporter = new JsonExporter({ url: url(), headers: headers() })
    const r = await exportWith(exporter, spans)
    await exporter.shutdown()
    assert.equal(r.code, 1)
    assert.equal(r.error?.code, 422)
    assert.equal((JSON.parse(r.error?.data ?? '{}') as { code: string }).code, 'ERR_LINK_UNRESOLVED')
    const res = await fetch(`${daemon.info.url}/api/v1/sessions/${encodeURIComponent(`otel/${traceId}`)}/steps`)
    assert.equal(res.status, 404, 'no partial session')
  })

  it('bad OTLP gets 400/415 with a code and writes nothing', async () => {
    const before = (await api<{ sessions: unknown[] }>('/sessions')).sessions.length
    const bad = async (res: Response, status: number, code: string): Promise<void> => {
      assert.equal(res.status, status, await res.clone().text())
      if ((res.headers.get('content-type') ?? '').startsWith('application/x-protobuf')) {
        const s = decodeRpcStatus(new Uint8Array(await res.arrayBuffer()))
        assert.equal(s.reason, code)
        assert.equal(s.code, status === 400 ? 3 : s.code)
      } else {
        assert.equal((await res.json() as { code: string }).code, code)
      }
    }
    await bad(await post('{"resourceSpans": [', 'application/json'), 400, 'ERR_JSON_INVALID')
    await bad(await post('{"resourceSpans": 7}', 'application/json'), 400, 'ERR_OTLP_INVALID')
    await bad(await post(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'zz', spanId: '0102030405060708', name: 'x', startTimeUnixNano: '1' }] }] }] }), 'application/json'), 400, 'ERR_OTLP_INVALID')
    // A span id of the wrong length, and one span whose parent is itself.
    const span = (spanId: string, parentSpanId?: string): unknown => ({ traceId: '0102030405060708090a0b0c0d0e0f10', spanId, parentSpanId, name: 'x', startTimeUnixNano: '1700000000000000000' })
    await bad(await post(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span('0102')] }] }] }), 'application/json'), 400, 'ERR_OTLP_INVALID')
    await bad(await post(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span('0a0a0a0a0a0a0a0a', '0b0b0b0b0b0b0b0b'), span('0b0b0b0b0b0b0b0b', '0a0a0a0a0a0a0a0a')] }] }] }), 'application/json'), 400, 'ERR_OTLP_INVALID')
    // Valid spans beside an invalid one: nothing of the batch is written.
    await bad(await post(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span('0c0c0c0c0c0c0c0c'), { ...span('0d0d0d0d0d0d0d0d') as object, startTimeUnixNano: '0' }] }] }] }), 'application/json'), 400, 'ERR_OTLP_INVALID')
    // Protobuf whose first field claims more bytes than there are.
    await bad(await post(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), 'application/x-protobuf'), 400, 'ERR_OTLP_INVALID')
    // Gzip that is not gzip, both encodings.
    await bad(await post(Buffer.from('not gzip at all'), 'application/json', { 'content-encoding': 'gzip' }), 400, 'ERR_OTLP_INVALID')
    await bad(await post(Buffer.from('not gzip at all'), 'application/x-protobuf', { 'content-encoding': 'gzip' }), 400, 'ERR_OTLP_INVALID')
    // Gzip of malformed JSON is still malformed JSON.
    await bad(await post(gzipSync('{"resourceSpans"'), 'application/json', { 'content-encoding': 'gzip' }), 400, 'ERR_JSON_INVALID')
    await bad(await post('{}', 'application/json', { 'content-encoding': 'br' }), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE')
    await bad(await post('resourceSpans', 'text/plain'), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE')
    await bad(await post('<x/>', 'application/xml'), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE')
    // Writes need the token, as every write does.
    const anonymous = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    assert.equal(anonymous.status, 401)
    assert.equal((await anonymous.json() as { code: string }).code, 'ERR_UNAUTHORIZED')
    const anonymousProto = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(0) })
    assert.equal(anonymousProto.status, 401)
    assert.equal(anonymousProto.headers.get('content-type'), 'application/x-protobuf')
    assert.deepEqual(decodeRpcStatus(new Uint8Array(await anonymousProto.arrayBuffer())).code, 16, 'UNAUTHENTICATED')
    assert.equal((await api<{ sessions: unknown[] }>('/sessions')).sessions.length, before)
  })

  it('an empty export succeeds (the OTLP spec), answering an empty ExportTraceServiceResponse in the request\'s encoding', async () => {
    const json = await post('{}', 'application/json')
    assert.equal(json.status, 200)
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(await json.json(), {})
    // No bytes at all: an empty protobuf message (gzipped here), but not JSON.
    const nothing = await post(gzipSync(Buffer.from([])), 'application/x-protobuf', { 'content-encoding': 'gzip' })
    assert.equal(nothing.status, 200)
    const noJson = await post(new Uint8Array(0), 'application/json')
    assert.equal(noJson.status, 400)
    assert.equal((await noJson.json() as { code: string }).code, 'ERR_JSON_INVALID')
    const emptyMessage = await post(Uint8Array.from([0x0a, 0x00]), 'application/x-protobuf')
    assert.equal(emptyMessage.status, 200)
    assert.equal(emptyMessage.headers.get('content-type'), 'application/x-protobuf')
    assert.equal((await emptyMessage.arrayBuffer()).byteLength, 0)
  })

  it('framehub trace import FILE goes through the daemon, and again writes nothing new', async () => {
    const { spans, traceId } = agentTrace(tracer, memory)
    // The OTLP JSON file, as the stock serializer writes it.
    const { JsonTraceSerializer } = await import('@opentelemetry/otlp-transformer')
    const file = join(dir, 'trace.json')
    await writeFile(file, JsonTraceSerializer.serializeRequest(spans as never) as Uint8Array)
    const r = await daemon.cli(['trace', 'import', file, '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json.spans, 5)
    assert.equal(r.json.written, 5)
    assert.deepEqual(r.json.sessions.map((s: { session: string }) => s.session), [`otel/${traceId}`])
    const again = await daemon.cli(['trace', 'import', file, '--json'])
    assert.equal(again.json.written, 0)
    assert.equal(again.json.existing, 5)
    assert.deepEqual(again.json.steps.map((s: { cid: string }) => s.cid), r.json.steps.map((s: { cid: string }) => s.cid))
    await writeFile(join(dir, 'bad.json'), '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "x"}]}]}]}')
    const bad = await daemon.cli(['trace', 'import', join(dir, 'bad.json'), '--json'])
    assert.equal(bad.code, 4)
    assert.equal(JSON.parse(bad.stderr).code, 'ERR_OTLP_INVALID')
  })
})

describe('spans waiting for their parent (the span import service)', () => {
  const request = (spans: unknown[]): string => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] })
  const span = (spanId: string, parentSpanId?: string): unknown => ({ traceId: 'aaaabbbbccccddddeeeeffff00001111', spanId, parentSpanId, name: spanId, startTimeUnixNano: '1700000000000000000', attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }] })
  const session = 'otel/aaaabbbbccccddddeeeeffff00001111'

  it('wait across a restart, come under their parent when it arrives, and are written as roots by flush when it does not', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const repo = join(dir, 'repo')
      let node = await createNode({ repo, create: true })
      // A grandchild and a child arrive before the root; another child's parent never comes.
      const first = await node.spans.import({ encoding: 'json', body: request([span('0000000000000003', '0000000000000002'), span('0000000000000009', '0000000000000008')]) }, { waitForParentMs: 60_000 })
      assert.deepEqual([first.written, first.waiting], [0, 2])
      const second = await node.spans.import({ encoding: 'json', body: request([span('0000000000000002', '0000000000000001'), span('0000000000000003', '0000000000000002')]) }, { waitForParentMs: 60_000 })
      assert.deepEqual([second.written, second.waiting], [0, 2], 'a span sent again while it waits still waits, once')
      await node.close()
      node = await createNode({ repo })
      const root = await node.spans.import({ encoding: 'json', body: request([span('0000000000000001')]) }, { waitForParentMs: 60_000 })
      assert.equal(root.written, 3, 'the root and the two spans that waited for it')
      const steps = await Array.fromAsync(node.traces.show(session))
      assert.deepEqual(steps.map(s => (s.step.content as { spanId: string }).spanId), ['0000000000000001', '0000000000000002', '0000000000000003'])
      assert.ok(steps[1]?.step.parents[0]?.equals(steps[0]?.cid as CID))
      assert.ok(steps[2]?.step.parents[0]?.equals(steps[1]?.cid as CID))
      assert.deepEqual(await node.spans.flush({ olderThanMs: 60_000 }), { written: 0 }, 'not waited long enough')
      assert.deepEqual(await node.spans.flush(), { written: 1 })
      const after = await Array.fromAsync(node.traces.show(session))
      const orphan = after.find(s => (s.step.content as { spanId: string }).spanId === '0000000000000009')
      assert.deepEqual(orphan?.step.parents, [])
      const again = await node.spans.import({ encoding: 'json', body: request([span('0000000000000009', '0000000000000008')]) }, { waitForParentMs: 60_000 })
      assert.deepEqual([again.written, again.existing, again.waiting], [0, 1, 0])
      // Garbage collection keeps what the span records name.
      await node.gc.gc()
      assert.equal((await Array.fromAsync(node.traces.show(session))).length, 4)
      await node.close()
    } finally {
      await cleanup()
    }
  })
})

describe('spans waiting for their parent, released in the request that sets them waiting', () => {
  it('a span whose waiting parent is released by the same request is written, not left waiting', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const node = await createNode({ repo: join(dir, 'repo'), create: true })
      try {
        const span = (spanId: string, parentSpanId: string | undefined, start: string): unknown => ({ traceId: '0123456789abcdef0123456789abcdef', spanId, parentSpanId, name: spanId, startTimeUnixNano: start })
        const body = (spans: unknown[]): string => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] })
        const p = await node.spans.import({ encoding: 'json', body: body([span('00000000000000b2', '00000000000000a1', '1700000001000000000')]) }, { waitForParentMs: 60_000 })
        assert.equal(p.waiting, 1)
        // The grandchild starts first, so it is met (and set waiting) before the root that releases its parent.
        const r = await node.spans.import({ encoding: 'json', body: body([span('00000000000000c3', '00000000000000b2', '1700000000500000000'), span('00000000000000a1', undefined, '1700000002000000000')]) }, { waitForParentMs: 60_000 })
        assert.deepEqual([r.written, r.waiting], [3, 0])
        assert.deepEqual(r.steps.map(s => s.status), ['written', 'written'])
        const steps = await Array.fromAsync(node.traces.show('otel/0123456789abcdef0123456789abcdef'))
        assert.deepEqual(steps.map(s => s.step.parents.length), [0, 1, 1])
        assert.deepEqual(await node.spans.flush(), { written: 0 }, 'nothing left waiting')
      } finally {
        await node.close()
      }
    } finally {
      await cleanup()
    }
  })
})

describe('framehub trace import without a daemon (in-process)', () => {
  it('imports an OTLP JSON file into the repository, parents across two imports, idempotently', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const repo = join(dir, 'repo')
      assert.equal((await runCli(['--repo', repo, 'init'])).code, 0)
      const traceId = '5b8efff798038103d269b633813fc60c'
      const span = (spanId: string, parentSpanId: string | undefined, op: string, start: string): unknown => ({
        traceId: traceId.toUpperCase(),
        spanId,
        parentSpanId,
        name: op,
        kind: 1,
        startTimeUnixNano: start,
        endTimeUnixNano: start,
        attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: op } }, { key: 'n', value: { intValue: '7' } }],
        unknownField: 'ignored'
      })
      const file = (spans: unknown[]): string => JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'agent' } }] }, scopeSpans: [{ scope: { name: 's' }, spans }] }] })
      // The parent arrives first, its child in a later file: the child's parent is the stored step.
      await writeFile(join(dir, 'a.json'), file([span('1111111111111111', undefined, 'invoke_agent', '1700000000000000000')]))
      await writeFile(join(dir, 'b.json'), file([span('2222222222222222', '1111111111111111', 'execute_tool', '1700000001000000000'), span('3333333333333333', '9999999999999999', 'chat', '1700000002000000000')]))
      const a = await runCli(['--repo', repo, 'trace', 'import', join(dir, 'a.json'), '--json'])
      assert.equal(a.code, 0, a.stderr)
      const b = await runCli(['--repo', repo, 'trace', 'import', join(dir, 'b.json'), '--json'])
      assert.equal(b.code, 0, b.stderr)
      assert.equal(b.json.written, 2)
      const again = await runCli(['--repo', repo, 'trace', 'import', join(dir, 'b.json'), '--json'])
      assert.equal(again.json.written, 0)
      const node = await createNode({ repo })
      try {
        const steps = await Array.fromAsync(node.traces.show(`otel/${traceId}`))
        assert.deepEqual(steps.map(s => s.step.op), ['invoke_agent', 'execute_tool', 'chat'])
        const [agent, tool, chat] = steps
        assert.ok(tool?.step.parents[0]?.equals(agent?.cid as CID))
        // A parent span never received: the step is a root, its content keeps the parent's id.
        assert.deepEqual(chat?.step.parents, [])
        assert.equal((chat?.step.content as { parentSpanId: string }).parentSpanId, '9999999999999999')
        assert.equal(agent?.step.time, 1_700_000_000_000)
        assert.deepEqual((agent?.step.content as { attributes: unknown }).attributes, { 'gen_ai.operation.name': 'invoke_agent', n: 7 })
        assert.equal((agent?.step.content as { service: string }).service, 'agent')
        assert.equal((await node.traces.routes(`otel/${traceId}`)).length, 2)
      } finally {
        await node.close()
      }
      // JSON Lines, as OTLP file exporters write: one request per line, imported as one.
      const lines = [file([span('4444444444444444', undefined, 'invoke_agent', '1700000003000000000')]), '', file([span('5555555555555555', '4444444444444444', 'execute_tool', '1700000004000000000')])].join('\n') + '\n'
      await writeFile(join(dir, 'c.jsonl'), lines)
      const c = await runCli(['--repo', repo, 'trace', 'import', join(dir, 'c.jsonl'), '--json'])
      assert.equal(c.code, 0, c.stderr)
      assert.deepEqual([c.json.spans, c.json.written], [2, 2])
      await writeFile(join(dir, 'd.jsonl'), lines + '{"resourceSpans": [\n')
      const d = await runCli(['--repo', repo, 'trace', 'import', join(dir, 'd.jsonl'), '--json'])
      assert.equal(JSON.parse(d.stderr).code, 'ERR_JSON_INVALID')
      assert.match(JSON.parse(d.stderr).message, /line 4/)
      const missing = await runCli(['--repo', repo, 'trace', 'import', join(dir, 'nope.json'), '--json'])
      assert.equal(JSON.parse(missing.stderr).code, 'ERR_FILE_NOT_FOUND')
      await writeFile(join(dir, 'broken.json'), '{"resourceSpans": [')
      const broken = await runCli(['--repo', repo, 'trace', 'import', join(dir, 'broken.json'), '--json'])
      assert.equal(broken.code, 4)
      assert.equal(JSON.parse(broken.stderr).code, 'ERR_JSON_INVALID')
    } finally {
      await cleanup()
    }
  })
})
