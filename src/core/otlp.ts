import protobuf from 'protobufjs/light.js'
import descriptor from '../../schemas/otlp/otlp.json' with { type: 'json' }
import { parseJsonText } from './json-view.ts'
import { OtlpInvalidError } from './errors.ts'

/**
 * The OpenTelemetry protocol (OTLP) for traces, as framehub receives it: ExportTraceServiceRequest
 * decoded from binary protobuf or from OTLP's JSON encoding (the proto3 JSON mapping with hex trace
 * and span ids), through protobufjs and the published definitions (schemas/otlp).
 */

const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace)
const RequestType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest')
const ResponseType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse')
const StatusType = root.lookupType('google.rpc.Status')
const ErrorInfoType = root.lookupType('google.rpc.ErrorInfo')

/** An attribute value of OTLP (AnyValue) as JSON: strings, numbers, booleans, arrays, objects. */
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue }

export interface OtlpEvent {
  name: string
  /** Nanoseconds since the Unix epoch. */
  timeUnixNano: bigint
  attributes: Record<string, AttributeValue>
}

export interface OtlpLink {
  traceId: string
  spanId: string
  attributes: Record<string, AttributeValue>
}

/** One span of a request, with its resource and scope, ids as lower-case hex. */
export interface OtlpSpan {
  /** 32 hex digits. */
  traceId: string
  /** 16 hex digits. */
  spanId: string
  /** 16 hex digits; absent for a root span. */
  parentSpanId?: string
  name: string
  /** SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number
  /** Nanoseconds since the Unix epoch. */
  startTimeUnixNano: bigint
  endTimeUnixNano: bigint
  attributes: Record<string, AttributeValue>
  events: OtlpEvent[]
  links: OtlpLink[]
  /** Status code: 0 unset, 1 ok, 2 error. */
  status: { code: number, message: string }
  /** The attributes of the span's resource (`service.name`, ...). */
  resource: Record<string, AttributeValue>
  scope: { name: string, version: string }
}

/** Most spans one request may hold. */
export const MAX_SPANS_PER_REQUEST = 100_000
/** Deepest nesting of an attribute value (arrays and key-value lists). */
const MAX_VALUE_DEPTH = 32
/** Most values a request's attributes may hold in all (spans, events, links, resources). */
const MAX_VALUES_PER_REQUEST = 4_000_000

const HEX = /^[0-9a-fA-F]*$/

/** `traceId`/`spanId` of OTLP JSON are hex, not the base64 of the proto3 JSON mapping. */
function hexToBytes (value: unknown, at: string): Uint8Array {
  if (typeof value !== 'string' || value.length % 2 !== 0 || !HEX.test(value)) {
    throw new OtlpInvalidError(`${at} must be a hex string (OTLP JSON encodes ids in hex)`, { at })
  }
  return Buffer.from(value, 'hex')
}

/** Replaces the hex ids of a JSON request with bytes, in place, before protobufjs reads it. */
function idsToBytes (json: unknown): void {
  const list = (value: unknown, at: string): unknown[] => {
    if (value == null) return []
    if (!Array.isArray(value)) throw new OtlpInvalidError(`${at} must be an array`, { at })
    return value
  }
  const object = (value: unknown, at: string): Record<string, unknown> => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new OtlpInvalidError(`${at} must be an object`, { at })
    return value as Record<string, unknown>
  }
  const ids = (target: Record<string, unknown>, names: string[], at: string): void => {
    for (const name of names) if (target[name] != null && target[name] !== '') target[name] = hexToBytes(target[name], `${at}.${name}`)
  }
  const request = object(json, 'request')
  list(request.resourceSpans, 'resourceSpans').forEach((rs, i) => {
    list(object(rs, `resourceSpans[${i}]`).scopeSpans, `resourceSpans[${i}].scopeSpans`).forEach((ss, j) => {
      const at = `resourceSpans[${i}].scopeSpans[${j}].spans`
      list(object(ss, `resourceSpans[${i}].scopeSpans[${j}]`).spans, at).forEach((s, k) => {
        const span = object(s, `${at}[${k}]`)
        ids(span, ['traceId', 'spanId', 'parentSpanId'], `${at}[${k}]`)
        list(span.links, `${at}[${k}].links`).forEach((l, m) => { ids(object(l, `${at}[${k}].links[${m}]`), ['traceId', 'spanId'], `${at}[${k}].links[${m}]`) })
      })
    })
  })
}

// The message shapes protobufjs gives (fields absent on the wire read as their defaults).
interface PbLong { toString (): string }
interface PbAnyValue {
  value?: string
  stringValue?: string
  boolValue?: boolean
  intValue?: PbLong | number
  doubleValue?: number
  arrayValue?: { values: PbAnyValue[] }
  kvlistValue?: { values: PbKeyValue[] }
  bytesValue?: Uint8Array
}
interface PbKeyValue { key?: string, value?: PbAnyValue | null }
// protobufjs leaves fields absent from the wire undefined: every field is optional here.
interface PbSpan {
  traceId?: Uint8Array
  spanId?: Uint8Array
  parentSpanId?: Uint8Array
  name?: string
  kind?: number
  startTimeUnixNano?: PbLong | number
  endTimeUnixNano?: PbLong | number
  attributes?: PbKeyValue[]
  events?: Array<{ timeUnixNano?: PbLong | number, name?: string, attributes?: PbKeyValue[] }>
  links?: Array<{ traceId?: Uint8Array, spanId?: Uint8Array, attributes?: PbKeyValue[] }>
  status?: { code?: number, message?: string } | null
}
interface PbRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: PbKeyValue[] } | null
    scopeSpans?: Array<{ scope?: { name?: string, version?: string } | null, spans?: PbSpan[] }>
  }>
}

const nanos = (value: PbLong | number): bigint => BigInt(typeof value === 'number' ? Math.trunc(value) : value.toString())

/** Turns a decoded request into spans, checking what protobuf itself cannot. */
function spansOf (request: PbRequest): OtlpSpan[] {
  let values = 0
  const valueOf = (v: PbAnyValue | null | undefined, at: string, depth: number): AttributeValue => {
    if (++values > MAX_VALUES_PER_REQUEST) throw new OtlpInvalidError(`the request holds more than ${MAX_VALUES_PER_REQUEST} attribute values`)
    if (depth > MAX_VALUE_DEPTH) throw new OtlpInvalidError(`${at} nests deeper than ${MAX_VALUE_DEPTH} levels`, { at })
    if (v == null) return null
    switch (v.value) {
      case 'stringValue': return v.stringValue ?? ''
      case 'boolValue': return v.boolValue ?? false
      case 'intValue': {
        const n = nanos(v.intValue ?? 0)
        return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString()
      }
      // DAG-CBOR has no NaN or infinities: they are kept as text.
      case 'doubleValue': return Number.isFinite(v.doubleValue) ? v.doubleValue as number : String(v.doubleValue)
      case 'arrayValue': return (v.arrayValue?.values ?? []).map((x, i) => valueOf(x, `${at}[${i}]`, depth + 1))
      case 'kvlistValue': return attributesOf(v.kvlistValue?.values ?? [], at, depth + 1)
      case 'bytesValue': return Buffer.from(v.bytesValue ?? []).toString('base64')
      default: return null
    }
  }
  const attributesOf = (list: PbKeyValue[] | undefined, at: string, depth = 0): Record<string, AttributeValue> => {
    const out: Record<string, AttributeValue> = {}
    for (const kv of list ?? []) {
      // A key "__proto__" would set the prototype of a plain object.
      const key = kv.key ?? ''
      Object.defineProperty(out, key, { value: valueOf(kv.value, `${at}.${key}`, depth), enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  const id = (value: Uint8Array | number[] | null | undefined, size: number, at: string, optional = false): string | undefined => {
    // An absent bytes field reads as protobufjs's default, a plain empty array.
    const bytes = value ?? []
    if (optional && bytes.length === 0) return undefined
    if (bytes.length !== size) throw new OtlpInvalidError(`${at} must be ${size} bytes (${size * 2} hex digits), not ${bytes.length}`, { at })
    if (bytes.every(b => b === 0)) throw new OtlpInvalidError(`${at} is all zeros, which OTLP forbids`, { at })
    return Buffer.from(bytes).toString('hex')
  }

  const spans: OtlpSpan[] = []
  ;(request.resourceSpans ?? []).forEach((rs, i) => {
    const resource = attributesOf(rs.resource?.attributes, `resourceSpans[${i}].resource`)
    ;(rs.scopeSpans ?? []).forEach((ss, j) => {
      const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' }
      ;(ss.spans ?? []).forEach((s, k) => {
        const at = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`
        if (spans.length >= MAX_SPANS_PER_REQUEST) throw new OtlpInvalidError(`the request holds more than ${MAX_SPANS_PER_REQUEST} spans`)
        const start = nanos(s.startTimeUnixNano ?? 0)
        if (start <= 0n) throw new OtlpInvalidError(`${at}.startTimeUnixNano is missing`, { at })
        const span: OtlpSpan = {
          traceId: id(s.traceId, 16, `${at}.traceId`) as string,
          spanId: id(s.spanId, 8, `${at}.spanId`) as string,
          name: s.name ?? '',
          kind: s.kind ?? 0,
          startTimeUnixNano: start,
          endTimeUnixNano: nanos(s.endTimeUnixNano ?? 0),
          attributes: attributesOf(s.attributes, `${at}.attributes`),
          events: (s.events ?? []).map((e, m) => ({ name: e.name ?? '', timeUnixNano: nanos(e.timeUnixNano ?? 0), attributes: attributesOf(e.attributes, `${at}.events[${m}]`) })),
          links: (s.links ?? []).map((l, m) => ({
            traceId: id(l.traceId, 16, `${at}.links[${m}].traceId`) as string,
            spanId: id(l.spanId, 8, `${at}.links[${m}].spanId`) as string,
            attributes: attributesOf(l.attributes, `${at}.links[${m}]`)
          })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
          scope
        }
        const parent = id(s.parentSpanId, 8, `${at}.parentSpanId`, true)
        if (parent != null) span.parentSpanId = parent
        spans.push(span)
      })
    })
  })
  return spans
}

/** Decodes a binary protobuf ExportTraceServiceRequest; `ERR_OTLP_INVALID` when it does not decode. */
export function decodeOtlpProtobuf (bytes: Uint8Array): OtlpSpan[] {
  let message: PbRequest
  try {
    message = RequestType.decode(bytes) as unknown as PbRequest
  } catch (err) {
    throw new OtlpInvalidError(`the body is not a protobuf ExportTraceServiceRequest: ${(err as Error).message}`)
  }
  return spansOf(message)
}

/**
 * Reads an ExportTraceServiceRequest in OTLP's JSON encoding (the parsed JSON value). Unknown
 * fields are ignored, as the OTLP specification asks; ids are hex; 64-bit integers may be strings
 * or numbers. With `owned`, the value is the caller's to give away (its ids are rewritten in place).
 */
export function decodeOtlpJson (json: unknown, options: { owned?: boolean } = {}): OtlpSpan[] {
  // Ids are rewritten in place before protobufjs reads the value: a copy unless the caller gives it away.
  const copy = options.owned === true ? json : structuredClone(json)
  idsToBytes(copy)
  let message: PbRequest
  try {
    message = RequestType.fromObject(copy as Record<string, unknown>) as unknown as PbRequest
  } catch (err) {
    throw new OtlpInvalidError(`the JSON is not an OTLP ExportTraceServiceRequest: ${(err as Error).message}`)
  }
  return spansOf(message)
}

/**
 * The JSON text of an OTLP file: one ExportTraceServiceRequest, or JSON Lines of them (one request
 * per line, as the OTLP file exporter and the collector's file exporter write), merged into one
 * request. Returns `undefined` when the text is one JSON document (send it as it is).
 * `ERR_JSON_INVALID` (with the line) for a line that is not JSON.
 */
export function otlpJsonLines (text: string, source = 'input'): { resourceSpans: unknown[] } | undefined {
  try {
    JSON.parse(text)
    return undefined
  } catch {}
  const lines = text.split('\n')
  const first = lines.findIndex(l => l.trim() !== '')
  // Not JSON Lines either (a broken document): the error of the whole text.
  try { JSON.parse(lines[first] ?? '') } catch { parseJsonText(text, { source }) }
  const resourceSpans: unknown[] = []
  lines.forEach((line, i) => {
    if (line.trim() === '') return
    const value = parseJsonText(line, { source: `${source} line ${i + 1}` })
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new OtlpInvalidError(`${source} line ${i + 1} is not an ExportTraceServiceRequest`, { line: i + 1 })
    const spans = (value as { resourceSpans?: unknown }).resourceSpans
    if (spans == null) return
    if (!Array.isArray(spans)) throw new OtlpInvalidError(`${source} line ${i + 1}: resourceSpans must be an array`, { line: i + 1 })
    for (const rs of spans) resourceSpans.push(rs)
  })
  return { resourceSpans }
}

/** What a server answers an export: OTLP's ExportTraceServiceResponse. */
export interface ExportResponse {
  /** Set only when some spans were refused, or to pass a warning (then `rejectedSpans` is 0). */
  partialSuccess?: { rejectedSpans: number, errorMessage: string }
}

/** ExportTraceServiceResponse as binary protobuf. */
export function encodeExportResponseProtobuf (response: ExportResponse): Uint8Array {
  return ResponseType.encode(ResponseType.fromObject(response)).finish()
}

/** ExportTraceServiceResponse in OTLP JSON (64-bit integers as decimal strings). */
export function exportResponseJson (response: ExportResponse): Record<string, unknown> {
  if (response.partialSuccess == null) return {}
  return { partialSuccess: { rejectedSpans: String(response.partialSuccess.rejectedSpans), errorMessage: response.partialSuccess.errorMessage } }
}

/** gRPC status codes (google.rpc.Code) for the HTTP status of a failure (the mapping of gRPC's HTTP guide). */
export function rpcCodeOf (httpStatus: number): number {
  switch (httpStatus) {
    case 400: return 3 // INVALID_ARGUMENT
    case 401: return 16 // UNAUTHENTICATED
    case 403: return 7 // PERMISSION_DENIED
    case 404: return 5 // NOT_FOUND
    case 409: case 412: return 9 // FAILED_PRECONDITION
    case 413: case 429: return 8 // RESOURCE_EXHAUSTED
    case 415: case 422: return 3
    case 503: return 14 // UNAVAILABLE
    default: return httpStatus < 500 ? 3 : 13 // INTERNAL
  }
}

/**
 * An OTLP/HTTP failure body in binary protobuf: google.rpc.Status with `message` and a
 * google.rpc.ErrorInfo detail whose `reason` is framehub's stable error code (domain "framehub").
 */
export function encodeRpcStatus (httpStatus: number, code: string, message: string): Uint8Array {
  const info = ErrorInfoType.encode(ErrorInfoType.fromObject({ reason: code, domain: 'framehub' })).finish()
  const status = {
    code: rpcCodeOf(httpStatus),
    message: `${code}: ${message}`,
    details: [{ type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: info }]
  }
  return StatusType.encode(StatusType.fromObject(status)).finish()
}

/** Reads a google.rpc.Status body (for clients and tests): its code, message and ErrorInfo reason. */
export function decodeRpcStatus (bytes: Uint8Array): { code: number, message: string, reason?: string } {
  const status = StatusType.decode(bytes) as unknown as { code?: number, message?: string, details?: Array<{ type_url?: string, value: Uint8Array }> }
  // google.protobuf.Any keeps its proto field name, type_url.
  const info = (status.details ?? []).find(d => d.type_url?.endsWith('/google.rpc.ErrorInfo'))
  const reason = info != null ? (ErrorInfoType.decode(info.value) as unknown as { reason: string }).reason : undefined
  return { code: status.code ?? 0, message: status.message ?? '', ...(reason != null ? { reason } : {}) }
}
