import { OtlpInvalidError } from './errors.ts'
import type { AttributeValue, OtlpSpan } from './otlp.ts'
import { validateSessionName } from './schemas.ts'

/**
 * How an OpenTelemetry span becomes a trace step. The attributes framehub reads (span attributes
 * first, then the span's resource attributes for `framehub.session`):
 * - `framehub.session`: the session; default `otel/<trace id>`;
 * - `framehub.op`: the step's op; default the GenAI operation name `gen_ai.operation.name`
 *   (`invoke_agent`, `execute_tool`, `chat`, ...) as it is; else `span`;
 * - `framehub.inputs` / `framehub.outputs`: frames the span read / wrote, as frame ids or CIDs
 *   (a string or an array of strings).
 */
export const SPAN_ATTRIBUTES = {
  session: 'framehub.session',
  op: 'framehub.op',
  inputs: 'framehub.inputs',
  outputs: 'framehub.outputs',
  genAiOperation: 'gen_ai.operation.name'
} as const

/** The op of a span without an operation name. */
export const DEFAULT_SPAN_OP = 'span'

/** What a span's step will be, before its parents are known as CIDs and before it is signed. */
export interface SpanStepPlan {
  /** `<trace id>/<span id>`: the span's identity, which makes importing idempotent. */
  key: string
  /** The parent span's key; absent for a root span. */
  parentKey?: string
  session: string
  op: string
  content: Record<string, unknown>
  /** Frames the span read, as named (frame ids or CIDs). */
  inputs: string[]
  /** Frames the span wrote, as named. */
  outputs: string[]
  /** Start of the span, ms since the Unix epoch. */
  time: number
}

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer']
const STATUS = ['unset', 'ok', 'error']

/** Lower-cases a name into an op word (`^[a-z][a-z0-9_-]*$`, at most 64 characters). */
export function opOf (name: string): string {
  let op = name.toLowerCase().replace(/[^a-z0-9_-]+/g, '_').slice(0, 64)
  if (!/^[a-z]/.test(op)) op = `op_${op}`.slice(0, 64)
  return op
}

const MAX_REFS = 4096

function refsOf (value: AttributeValue | undefined, at: string): string[] {
  if (value == null) return []
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : undefined
  if (list == null || !list.every((v): v is string => typeof v === 'string' && v.length > 0)) {
    throw new OtlpInvalidError(`${at} must be a frame id or CID, or an array of them`, { at })
  }
  if (list.length > MAX_REFS) throw new OtlpInvalidError(`${at} names more than ${MAX_REFS} frames`, { at })
  return [...new Set(list)]
}

const text = (value: AttributeValue | undefined): string | undefined => typeof value === 'string' && value !== '' ? value : undefined

/** The content of a span's step: what the span says, JSON only (no CIDs), empty parts left out. */
function contentOf (span: OtlpSpan): Record<string, unknown> {
  const content: Record<string, unknown> = {
    name: span.name,
    traceId: span.traceId,
    spanId: span.spanId
  }
  if (span.parentSpanId != null) content.parentSpanId = span.parentSpanId
  content.kind = KINDS[span.kind] ?? String(span.kind)
  content.startTimeUnixNano = span.startTimeUnixNano.toString()
  if (span.endTimeUnixNano > 0n) content.endTimeUnixNano = span.endTimeUnixNano.toString()
  if (span.status.code !== 0 || span.status.message !== '') {
    content.status = span.status.message !== '' ? { code: STATUS[span.status.code] ?? String(span.status.code), message: span.status.message } : { code: STATUS[span.status.code] ?? String(span.status.code) }
  }
  if (Object.keys(span.attributes).length > 0) content.attributes = span.attributes
  if (span.events.length > 0) content.events = span.events.map(e => ({ name: e.name, timeUnixNano: e.timeUnixNano.toString(), ...(Object.keys(e.attributes).length > 0 ? { attributes: e.attributes } : {}) }))
  if (span.links.length > 0) content.links = span.links.map(l => ({ traceId: l.traceId, spanId: l.spanId, ...(Object.keys(l.attributes).length > 0 ? { attributes: l.attributes } : {}) }))
  const service = text(span.resource['service.name'])
  if (service != null) content.service = service
  if (span.scope.name !== '') content.scope = span.scope.version !== '' ? { name: span.scope.name, version: span.scope.version } : { name: span.scope.name }
  return content
}

/**
 * Plans the steps of a batch of spans: each span once (the first of duplicates), parents before
 * children (then by start time, then key). Checks the whole batch first: `ERR_OTLP_INVALID` for an
 * invalid session name or frame list, or spans whose parents form a cycle.
 */
export function planSpanSteps (spans: readonly OtlpSpan[]): SpanStepPlan[] {
  const plans = new Map<string, SpanStepPlan>()
  for (const span of spans) {
    const key = `${span.traceId}/${span.spanId}`
    if (plans.has(key)) continue
    const at = `span ${key}`
    const sessionAttr = span.attributes[SPAN_ATTRIBUTES.session] ?? span.resource[SPAN_ATTRIBUTES.session]
    if (sessionAttr != null && typeof sessionAttr !== 'string') throw new OtlpInvalidError(`${at}: ${SPAN_ATTRIBUTES.session} must be a string`, { span: key })
    const session = sessionAttr ?? `otel/${span.traceId}`
    if (!validateSessionName(session)) {
      throw new OtlpInvalidError(`${at}: session name "${session}" is invalid: use 1-256 characters without spaces or empty '/' segments`, { span: key })
    }
    const opAttr = text(span.attributes[SPAN_ATTRIBUTES.op]) ?? text(span.attributes[SPAN_ATTRIBUTES.genAiOperation])
    const plan: SpanStepPlan = {
      key,
      session,
      op: opAttr != null ? opOf(opAttr) : DEFAULT_SPAN_OP,
      content: contentOf(span),
      inputs: refsOf(span.attributes[SPAN_ATTRIBUTES.inputs], `${at}: ${SPAN_ATTRIBUTES.inputs}`),
      outputs: refsOf(span.attributes[SPAN_ATTRIBUTES.outputs], `${at}: ${SPAN_ATTRIBUTES.outputs}`),
      time: Number(span.startTimeUnixNano / 1_000_000n)
    }
    if (span.parentSpanId != null) plan.parentKey = `${span.traceId}/${span.parentSpanId}`
    plans.set(key, plan)
  }

  // Kahn's algorithm over the parent links inside the batch.
  const children = new Map<string, string[]>()
  const ready: SpanStepPlan[] = []
  for (const plan of plans.values()) {
    if (plan.parentKey != null && plan.parentKey !== plan.key && plans.has(plan.parentKey)) {
      const list = children.get(plan.parentKey)
      if (list == null) children.set(plan.parentKey, [plan.key])
      else list.push(plan.key)
    } else if (plan.parentKey === plan.key) {
      throw new OtlpInvalidError(`span ${plan.key} is its own parent`, { span: plan.key })
    } else {
      ready.push(plan)
    }
  }
  const order = (a: SpanStepPlan, b: SpanStepPlan): number => a.time !== b.time ? a.time - b.time : a.key < b.key ? -1 : a.key > b.key ? 1 : 0
  const out: SpanStepPlan[] = []
  // Roots in start order; each plan's children follow it as they become ready.
  ready.sort(order)
  const stack = ready.reverse()
  while (stack.length > 0) {
    const plan = stack.pop() as SpanStepPlan
    out.push(plan)
    const next = (children.get(plan.key) ?? []).map(k => plans.get(k) as SpanStepPlan).sort(order)
    for (let i = next.length - 1; i >= 0; i--) stack.push(next[i] as SpanStepPlan)
  }
  if (out.length !== plans.size) {
    const done = new Set(out.map(p => p.key))
    const stuck = [...plans.keys()].find(k => !done.has(k))
    throw new OtlpInvalidError(`spans of the request name each other as parents in a cycle (span ${stuck})`, { span: stuck })
  }
  return out
}
