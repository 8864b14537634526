import type { CID } from 'multiformats/cid'
import { decodeCbor, encodeBlock } from './block.ts'
import { fromJsonView, toJsonView } from './json-view.ts'
import type { Block } from './block.ts'
import { TraceStepInvalidError } from './errors.ts'
import { describeSchemaError, validateSessionName, validateTraceStepInputJson, validateTraceStepJson } from './schemas.ts'
import { signValue, verifyValueSignature } from './signing.ts'
import type { Signer } from './signing.ts'

/** What an agent gives for a step; the node adds the rest. */
export interface TraceStepInput {
  /** What the step did: `thought`, `action`, `observation`, `conclusion`, ... */
  op: string
  content: unknown
  /** Frames the step read. */
  inputs?: CID[]
  /** Frames the step wrote. */
  outputs?: CID[]
}

/** A signed step of a reasoning session. Steps form a DAG through `parents`. */
export interface TraceStep {
  session: string
  parents: CID[]
  op: string
  content: unknown
  inputs: CID[]
  outputs: CID[]
  /** Peer id of the node that wrote the step. */
  node: string
  /** Milliseconds since the Unix epoch. */
  time: number
  sig: Uint8Array
}

/**
 * Validates the JSON form of a step input (`schemas/trace-step-input.schema.json`); content nested
 * deeper than MAX_JSON_DEPTH is refused before any recursive work.
 */
export function traceStepInputFromJson (json: unknown, source?: string): TraceStepInput {
  const at = source != null ? `${source}: ` : ''
  if (!validateTraceStepInputJson(json)) {
    throw new TraceStepInvalidError(`${at}trace step ${describeSchemaError(validateTraceStepInputJson.errors)}`, { source })
  }
  try {
    return fromJsonView(json) as TraceStepInput
  } catch (err) {
    throw new TraceStepInvalidError(`${at}trace step ${(err as Error).message}`, { source })
  }
}

/** Throws `ERR_TRACE_STEP_INVALID` unless `name` is a valid session name. */
export function checkSessionName (name: string): void {
  if (!validateSessionName(name)) {
    throw new TraceStepInvalidError(`session name "${name}" is invalid: use 1-256 characters without spaces or empty '/' segments`)
  }
}

export interface TraceStepFields extends TraceStepInput {
  session: string
  parents: CID[]
  time?: number
}

/** Builds, signs and encodes a trace step. */
export async function createTraceStep (signer: Signer, fields: TraceStepFields): Promise<Block & { step: TraceStep }> {
  checkSessionName(fields.session)
  const step = await signValue(signer, {
    session: fields.session,
    parents: fields.parents,
    op: fields.op,
    content: fields.content ?? null,
    inputs: fields.inputs ?? [],
    outputs: fields.outputs ?? [],
    node: signer.id,
    time: fields.time ?? Date.now()
  }) as unknown as TraceStep
  return { ...encodeBlock(step, `trace step of session ${fields.session}`), step }
}

/** Decodes a stored step and checks its shape (not its signature: see verifyTraceStep). */
export function decodeTraceStep (cid: CID, bytes: Uint8Array): TraceStep {
  const value = decodeCbor(cid, bytes)
  if (!looksLikeTraceStep(value)) throw new TraceStepInvalidError(`block ${cid} is not a trace step`, { cid: cid.toString() })
  let json: unknown
  try {
    json = toJsonView(value)
  } catch (err) {
    throw new TraceStepInvalidError(`block ${cid} is not a valid trace step: ${(err as Error).message}`, { cid: cid.toString() })
  }
  if (!validateTraceStepJson(json)) {
    throw new TraceStepInvalidError(`block ${cid} is not a valid trace step: ${describeSchemaError(validateTraceStepJson.errors)}`, { cid: cid.toString() })
  }
  return value as TraceStep
}

/** Throws `ERR_SIGNATURE_INVALID` unless the step is signed by its node. */
export async function verifyTraceStep (cid: CID, step: TraceStep): Promise<void> {
  await verifyValueSignature(`trace step ${cid}`, step.node, step as unknown as Record<string, unknown>)
}

export function looksLikeTraceStep (value: unknown): boolean {
  return value !== null && typeof value === 'object' && 'session' in value && 'op' in value && 'node' in value
}
