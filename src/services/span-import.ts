import type { CID } from 'multiformats/cid'
import { parseJsonText } from '../core/codec.ts'
import { FramehubError, LinkUnresolvedError, OtlpInvalidError } from '../core/errors.ts'
import { decodeOtlpJson, decodeOtlpProtobuf } from '../core/otlp.ts'
import { planSpanSteps } from '../core/span-step.ts'
import type { SpanStepPlan } from '../core/span-step.ts'
import { createTraceStep, decodeTraceStep } from '../core/trace-step.ts'
import { encodeCid, keys } from '../storage/state.ts'
import type { CallOptions, ServiceComponents } from './context.ts'

/** An OTLP ExportTraceServiceRequest as it arrived: OTLP JSON (text or bytes) or binary protobuf. */
export type OtlpRequest =
  | { encoding: 'json', body: string | Uint8Array }
  | { encoding: 'protobuf', body: Uint8Array }

/** What became of one span. */
export interface ImportedSpan {
  traceId: string
  spanId: string
  session: string
  /** The span's step. */
  cid: CID
  /** False when the span had been imported before (its step is the one written then). */
  written: boolean
}

export interface SpanImportResult {
  /** Spans in the request (duplicates counted once). */
  spans: number
  /** Steps written by this import. */
  written: number
  /** Spans imported before: no new step. */
  existing: number
  /** Sessions that got steps, with their heads after the import. */
  sessions: Array<{ session: string, heads: CID[] }>
  /** Every span, parents before children. */
  steps: ImportedSpan[]
}

/** OpenTelemetry spans into signed trace steps. */
export interface SpanImportService {
  /**
   * Decodes an OTLP trace export, checks all of it, then writes one signed step per span not
   * imported before, in one atomic write: a bad request (`ERR_OTLP_INVALID`, `ERR_JSON_INVALID`,
   * `ERR_LINK_UNRESOLVED`) writes nothing.
   */
  import (request: OtlpRequest, options?: CallOptions): Promise<SpanImportResult>
}

export interface SpanImportComponents extends ServiceComponents {
  /** The CID of a frame named by id (on the current branch) or by CID; throws when there is none. */
  resolveFrame: (ref: string, options?: CallOptions) => Promise<CID>
}

const decoder = new TextDecoder('utf-8', { fatal: true })

function decode (request: OtlpRequest) {
  if (request.encoding === 'protobuf') return decodeOtlpProtobuf(request.body)
  let text: string
  try {
    text = typeof request.body === 'string' ? request.body : decoder.decode(request.body)
  } catch {
    throw new OtlpInvalidError('the JSON body is not UTF-8 text')
  }
  return decodeOtlpJson(parseJsonText(text, { source: 'OTLP request' }), { owned: true })
}

export function createSpanImportService (components: SpanImportComponents): SpanImportService {
  const { repo, exclusive, events, sessions: sessionHeads, resolveFrame } = components

  /** The frames spans name, resolved once each, before anything is written. */
  const resolveRefs = async (plans: SpanStepPlan[], options?: CallOptions): Promise<Map<string, CID>> => {
    const refs = new Map<string, CID>()
    for (const plan of plans) {
      for (const ref of [...plan.inputs, ...plan.outputs]) {
        if (refs.has(ref)) continue
        try {
          refs.set(ref, await resolveFrame(ref, options))
        } catch (err) {
          if (err instanceof FramehubError && (err.code === 'ERR_TIMEOUT' || err.code === 'ERR_REPO_CORRUPT')) throw err
          throw new LinkUnresolvedError(`span ${plan.key} names frame "${ref}", which is not in this repository`, { span: plan.key, frame: ref })
        }
      }
    }
    return refs
  }

  return {
    async import (request, options) {
      const plans = planSpanSteps(decode(request))
      const refs = await resolveRefs(plans, options)
      return await exclusive(async () => {
        options?.signal?.throwIfAborted()
        /** Steps by span key: written earlier (from the state) or now. */
        const known = new Map<string, { cid: CID, session: string }>()
        const steps: ImportedSpan[] = []
        const batch = repo.batch()
        /** Sessions this import moves, with their heads as they become. */
        const moved = new Map<string, { heads: CID[], head: CID | undefined }>()
        const appended: Array<{ session: string, cid: CID, parents: CID[] }> = []

        const stored = async (key: string): Promise<{ cid: CID, session: string } | undefined> => {
          const hit = known.get(key)
          if (hit != null) return hit
          const cid = await repo.state.cid(keys.otlpSpan(key))
          if (cid == null) return undefined
          const step = decodeTraceStep(cid, await repo.blocks.get(cid, options))
          const found = { cid, session: step.session }
          known.set(key, found)
          return found
        }

        for (const plan of plans) {
          const [traceId = '', spanId = ''] = plan.key.split('/')
          const before = await stored(plan.key)
          if (before != null) {
            steps.push({ traceId, spanId, session: before.session, cid: before.cid, written: false })
            continue
          }
          // The parent span's step: written by this import (it comes first) or by an earlier one. A
          // parent never seen, or in another session, leaves the step a root of its session (its
          // content keeps parentSpanId).
          const parent = plan.parentKey != null ? await stored(plan.parentKey) : undefined
          const parents = parent != null && parent.session === plan.session ? [parent.cid] : []
          let block
          try {
            block = await createTraceStep(repo.signer, {
              session: plan.session,
              parents,
              op: plan.op,
              content: plan.content,
              inputs: plan.inputs.map(r => refs.get(r) as CID),
              outputs: plan.outputs.map(r => refs.get(r) as CID),
              time: plan.time
            })
          } catch (err) {
            if (err instanceof FramehubError && err.code === 'ERR_PAYLOAD_TOO_LARGE') {
              throw new OtlpInvalidError(`span ${plan.key} is too large for a step: ${err.message}`, { span: plan.key })
            }
            throw err
          }
          batch.putBlock(block.cid, block.bytes)
          batch.putState(keys.otlpSpan(plan.key), encodeCid(block.cid))
          known.set(plan.key, { cid: block.cid, session: plan.session })
          let state = moved.get(plan.session)
          if (state == null) {
            const current = await sessionHeads.get(plan.session)
            state = { heads: [...current?.heads ?? []], head: current?.head }
            moved.set(plan.session, state)
          }
          const gone = new Set(parents.map(String))
          state.heads = [...state.heads.filter(h => !gone.has(h.toString())), block.cid]
          state.head = block.cid
          appended.push({ session: plan.session, cid: block.cid, parents })
          steps.push({ traceId, spanId, session: plan.session, cid: block.cid, written: true })
        }

        if (appended.length > 0) {
          const commits = [...moved].map(([session, state]) => sessionHeads.set(batch, session, { heads: state.heads, head: state.head, dirty: true }))
          // Journaled: durable now, in LevelDB a few milliseconds later (see storage/journal.ts).
          repo.journal.append(batch.ops)
          for (const commit of commits) commit()
          if (events.listeners > 0) {
            for (const a of appended) {
              const heads = (moved.get(a.session) as { heads: CID[] }).heads.map(String)
              events.publish('step:append', { session: a.session, cid: a.cid.toString(), parents: a.parents.map(String), heads })
            }
          }
        }
        const sessions = [...new Set(steps.map(s => s.session))].map(session => ({ session, heads: moved.get(session)?.heads ?? [] }))
        for (const s of sessions) {
          if (s.heads.length === 0) s.heads = (await sessionHeads.get(s.session))?.heads ?? []
        }
        return { spans: plans.length, written: appended.length, existing: plans.length - appended.length, sessions, steps }
      }, { journaled: true })
    }
  }
}
