/**
 * OTLP ingest: spans per second from the stock OpenTelemetry exporters
 * (@opentelemetry/exporter-trace-otlp-proto and -http) into signed trace steps, through a real
 * gateway on 127.0.0.1 (`POST /v1/traces`). Spans are agent-shaped traces (invoke_agent → 3
 * execute_tool → chat) recorded by the stock SDK, exported in batches of 512 (the SDK's
 * BatchSpanProcessor default), one request after another, as one exporter sends them. The
 * exporter and the gateway share this process (and the machine's cores).
 *
 *   BENCH_OTLP_SPANS (20000 per encoding; 1000 with BENCH_QUICK=1)  BENCH_OTLP_BATCH (512)
 *   BENCH_OTLP_WARMUP (2000 spans per encoding first, not measured)
 * Standalone: `node scripts/bench/otlp-ingest.ts` prints its report as JSON.
 */
import { join } from 'node:path'
import { context, trace } from '@opentelemetry/api'
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import { allMet, judge, reasonLine } from './goals.ts'
import type { Judged } from './goals.ts'
import { cleanupAll, cpuMs, isMain, log, now, perSecond, round, tempDir } from './common.ts'

export interface OtlpEncodingResult {
  spans: number
  requests: number
  ms: number
  /** CPU time of the process (exporter and gateway) over the exports. */
  cpuMs: number
  /** Time inside the span import service (decode, check, sign, write), of `ms`. */
  importMs: number
  spansPerSecond: number
  /** Signed steps found in the repository afterwards (one per span). */
  steps: number
  /** Exporting the same spans again: spans/s of the idempotent path (no step written). */
  reexportSpansPerSecond: number
  reexportNewSteps: number
}

export interface OtlpIngestReport {
  batch: number
  /**
   * Same-run anchor: sequential `traces.append` on the same node (steps/s), whose goal is the same
   * 5,000/s: on a loaded machine both fall together, and the ratio says what the wire costs.
   */
  traceAppendStepsPerSecond: number
  protobuf: OtlpEncodingResult
  json: OtlpEncodingResult
  /** At least 5,000 spans/s into signed steps, for each encoding. */
  goal: { spansPerSecond: number, met: boolean, judged: { protobuf: Judged, json: Judged }, reason?: string }
}

interface Exporter { export (spans: ReadableSpan[], done: (r: { code: number, error?: Error }) => void): void, shutdown (): Promise<void> }

/** `count` spans of agent-shaped traces (5 spans a trace), finished, as the SDK hands them to an exporter. */
function recordSpans (count: number): ReadableSpan[] {
  const memory = new InMemorySpanExporter()
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] })
  const tracer = provider.getTracer('bench-agent', '1.0.0')
  for (let t = 0; memory.getFinishedSpans().length < count; t++) {
    const agent = tracer.startSpan('invoke_agent planner', { attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner', run: t } })
    const inside = trace.setSpan(context.active(), agent)
    for (const tool of ['search', 'fetch', 'summarize']) {
      tracer.startSpan(`execute_tool ${tool}`, { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool, 'gen_ai.tool.call.arguments': `{"q":"question ${t}"}` } }, inside).end()
    }
    const chat = tracer.startSpan('chat model-x', { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'model-x', 'gen_ai.usage.input_tokens': 812, 'gen_ai.usage.output_tokens': 96 } }, inside)
    chat.addEvent('gen_ai.choice', { 'gen_ai.output': `answer ${t}` })
    chat.end()
    agent.end()
  }
  const spans = memory.getFinishedSpans().slice(0, count)
  void provider.shutdown()
  return spans
}

async function exportAll (exporter: Exporter, spans: ReadableSpan[], batch: number): Promise<{ ms: number, cpuMs: number, requests: number }> {
  const cpu0 = process.cpuUsage()
  const start = now()
  let requests = 0
  for (let i = 0; i < spans.length; i += batch) {
    const r = await new Promise<{ code: number, error?: Error }>(resolve => { exporter.export(spans.slice(i, i + batch), resolve) })
    if (r.code !== 0) throw new Error(`export failed: ${r.error?.message ?? 'unknown'}`)
    requests++
  }
  return { ms: now() - start, cpuMs: cpuMs(cpu0), requests }
}

export async function benchOtlpIngest (): Promise<OtlpIngestReport> {
  const count = Number(process.env.BENCH_OTLP_SPANS ?? (process.env.BENCH_QUICK === '1' ? 1000 : 20_000))
  const batch = Number(process.env.BENCH_OTLP_BATCH ?? 512)
  const node = await createNode({ repo: join(await tempDir('otlp'), 'repo'), create: true })
  const app = await createGateway(node, { logger: false, rateLimit: false, underPressure: false })
  // The service's share of the time: the rest is HTTP and the exporter.
  let importMs = 0
  const spans = node.spans
  const timed: typeof spans = {
    import: async (...args) => { const t = now(); try { return await spans.import(...args) } finally { importMs += now() - t } },
    flush: async (...args) => await spans.flush(...args)
  }
  Object.defineProperty(node, 'spans', { value: timed })
  try {
    const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1/traces`
    const headers = { authorization: `Bearer ${node.repo.config.apiToken}` }
    const run = async (name: 'protobuf' | 'json'): Promise<OtlpEncodingResult> => {
      log(`otlp ingest (${name}): recording ${count} spans`)
      const spans = recordSpans(count)
      const exporter: Exporter = name === 'protobuf' ? new ProtoExporter({ url, headers }) : new JsonExporter({ url, headers })
      try {
        importMs = 0
        const first = await exportAll(exporter, spans, batch)
        const firstImportMs = importMs
        const traceIds = new Set(spans.map(s => s.spanContext().traceId))
        let steps = 0
        for (const id of traceIds) steps += (await node.traces.heads(`otel/${id}`)).length > 0 ? (await Array.fromAsync(node.traces.show(`otel/${id}`))).length : 0
        const again = await exportAll(exporter, spans, batch)
        let after = 0
        for (const id of traceIds) after += (await Array.fromAsync(node.traces.show(`otel/${id}`))).length
        const result = {
          spans: count,
          requests: first.requests,
          ms: round(first.ms),
          cpuMs: round(first.cpuMs),
          importMs: round(firstImportMs),
          spansPerSecond: perSecond(count, first.ms),
          steps,
          reexportSpansPerSecond: perSecond(count, again.ms),
          reexportNewSteps: after - steps
        }
        log(`otlp ingest (${name}): ${result.spansPerSecond} spans/s (import service ${result.importMs} of ${result.ms} ms), ${steps} steps; re-export ${result.reexportSpansPerSecond} spans/s`)
        return result
      } finally {
        await exporter.shutdown()
      }
    }
    // Warm-up (not measured): a daemon is long-running, so the first requests' compilation is not its rate.
    const warmup = Number(process.env.BENCH_OTLP_WARMUP ?? 2000)
    for (const exporter of [new ProtoExporter({ url, headers }), new JsonExporter({ url, headers })]) {
      await exportAll(exporter, recordSpans(warmup), batch)
      await exporter.shutdown()
    }
    const protobuf = await run('protobuf')
    const json = await run('json')
    const appends = Math.max(1000, Math.round(count / 4))
    const start = now()
    for (let i = 0; i < appends; i++) await node.traces.append('bench/append-anchor', { op: 'thought', content: { text: `step ${i}`, i } })
    const traceAppendStepsPerSecond = perSecond(appends, now() - start)
    log(`otlp ingest: trace append anchor ${traceAppendStepsPerSecond} steps/s`)
    // A run that lost or duplicated steps has no rate worth judging.
    const rate = (r: OtlpEncodingResult): number | { missing: string } => r.steps === r.spans && r.reexportNewSteps === 0 ? r.spansPerSecond : { missing: `${r.steps} steps for ${r.spans} spans, ${r.reexportNewSteps} new on re-export` }
    const judged = { protobuf: judge(rate(protobuf), { atLeast: 5000 }), json: judge(rate(json), { atLeast: 5000 }) }
    const met = allMet(Object.values(judged))
    return { batch, traceAppendStepsPerSecond, protobuf, json, goal: { spansPerSecond: 5000, met, judged, ...(met ? {} : { reason: reasonLine(judged) }) } }
  } finally {
    await app.close()
    await node.close()
  }
}

if (isMain(import.meta.url)) {
  try {
    process.stdout.write(JSON.stringify(await benchOtlpIngest(), null, 2) + '\n')
  } finally {
    await cleanupAll()
  }
}
