import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { parseJsonText } from '../core/json-view.ts'
import { FramehubError, LinkUnresolvedError, OtlpInvalidError } from '../core/errors.ts'
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
  /**
   * `written`: its step was written now; `existing`: it was imported before (its step is the one
   * written then); `waiting`: it waits, kept in the repository, for its parent span (see
   * `SpanImportOptions.waitForParentMs`).
   */
  status: 'written' | 'existing' | 'waiting'
  /** The span's step (absent while it waits). */
  cid?: CID
}

export interface SpanImportResult {
  /** Spans in the request (duplicates counted once). */
  spans: number
  /** Steps written by this import: the request's spans, and waiting spans it released. */
  written: number
  /** Spans imported before: no new step. */
  existing: number
  /** Spans of the request that wait for their parent span. */
  waiting: number
  /** Sessions that got steps, with their heads after the import. */
  sessions: Array<{ session: string, heads: CID[] }>
  /** Every span of the request, parents before children. */
  steps: ImportedSpan[]
}

export interface SpanImportOptions extends CallOptions {
  /**
   * How long a span whose parent span has not arrived may wait for it, ms (default 0: it is
   * written at once, as a root of its session). OpenTelemetry SDKs export a span when it ends, so
   * children usually arrive before their parent. A waiting span is kept in the repository and
   * written under its parent when the parent arrives; one that waited longer than this is written
   * as a root by the next import or `flush`.
   */
  waitForParentMs?: number
}

/** OpenTelemetry spans into signed trace steps. */
export interface SpanImportService {
  /**
   * Decodes an OTLP trace export, checks all of it, then writes one signed step per span not
   * imported before, in one atomic write: a bad request (`ERR_OTLP_INVALID`, `ERR_JSON_INVALID`,
   * `ERR_LINK_UNRESOLVED`) writes nothing.
   */
  import (request: OtlpRequest, options?: SpanImportOptions): Promise<SpanImportResult>
  /** Writes the spans that waited for their parent longer than `olderThanMs` (default 0: all) as roots. */
  flush (options?: CallOptions & { olderThanMs?: number }): Promise<{ written: number }>
}

export interface SpanImportComponents extends Pick<ServiceComponents, 'blocks' | 'journal' | 'signer' | 'state' | 'writeBatch' | 'exclusive' | 'events' | 'sessions'> {
  /** The CID of a frame named by id (on the current branch) or by CID; throws when there is none. */
  resolveFrame: (ref: string, options?: CallOptions) => Promise<CID>
}

/** A span that waits for its parent span: its step, all but the parent (DAG-CBOR in the state). */
interface WaitingSpan {
  parentKey: string
  session: string
  op: string
  content: unknown
  inputs: CID[]
  outputs: CID[]
  time: number
  /** When it started waiting, ms since the epoch. */
  since: number
}

const decoder = new TextDecoder('utf-8', { fatal: true })

// The OTLP decoder (protobufjs and the OTLP descriptor, about 40 modules) loads with the first
// span import, not with every process that opens a node.
async function decode (request: OtlpRequest): Promise<ReturnType<typeof import('../core/otlp.ts').decodeOtlpJson>> {
  const { decodeOtlpJson, decodeOtlpProtobuf } = await import('../core/otlp.ts')
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
  const { blocks, journal, signer, state, writeBatch, exclusive, events, sessions: sessionHeads, resolveFrame } = components

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

  /**
   * The waiting spans, by key (their start of waiting) and by parent: read from the state once,
   * then kept in step with it (every change to them is made here, under the write lock).
   */
  let waiting: { since: Map<string, number>, byParent: Map<string, Set<string>> } | undefined
  const loadWaiting = async (): Promise<NonNullable<typeof waiting>> => {
    if (waiting != null) return waiting
    const loaded = { since: new Map<string, number>(), byParent: new Map<string, Set<string>>() }
    for await (const [key, value] of state.scan(keys.otlpWaitingPrefix)) {
      const w = dagCbor.decode(value) as WaitingSpan
      loaded.since.set(key, w.since)
      let set = loaded.byParent.get(w.parentKey)
      if (set == null) loaded.byParent.set(w.parentKey, set = new Set())
      set.add(key)
    }
    waiting = loaded
    return loaded
  }

  /** One write: steps, span records, waiting spans and session heads go into one batch. */
  const createWrite = async (options?: CallOptions) => {
    const wait = await loadWaiting()
    /** Steps by span key: written earlier (from the state) or now. */
    const known = new Map<string, { cid: CID, session: string }>()
    const batch = writeBatch()
    /** Sessions this write moves, with their heads as they become. */
    const moved = new Map<string, { heads: CID[], head: CID | undefined }>()
    const appended: Array<{ session: string, cid: CID, parents: CID[] }> = []
    /** Changes to the waiting spans, applied to `wait` once the batch is written. */
    const added = new Map<string, WaitingSpan>()
    const released = new Set<string>()
    const isWaiting = (key: string): boolean => added.has(key) || (wait.since.has(key) && !released.has(key))

    const stored = async (key: string): Promise<{ cid: CID, session: string } | undefined> => {
      const hit = known.get(key)
      if (hit != null) return hit
      const cid = await state.cid(keys.otlpSpan(key))
      if (cid == null) return undefined
      const step = decodeTraceStep(cid, await blocks.get(cid, options))
      const found = { cid, session: step.session }
      known.set(key, found)
      return found
    }

    /** Writes a span's step (and then the spans that waited for it); returns its CID. */
    const writeStep = async (key: string, fields: Omit<WaitingSpan, 'parentKey' | 'since'>, parent: { cid: CID, session: string } | undefined): Promise<CID> => {
      const parents = parent != null && parent.session === fields.session ? [parent.cid] : []
      let block
      try {
        block = await createTraceStep(signer, { ...fields, parents })
      } catch (err) {
        if (err instanceof FramehubError && err.code === 'ERR_PAYLOAD_TOO_LARGE') {
          throw new OtlpInvalidError(`span ${key} is too large for a step: ${err.message}`, { span: key })
        }
        throw err
      }
      batch.putBlock(block.cid, block.bytes)
      batch.putState(keys.otlpSpan(key), encodeCid(block.cid))
      known.set(key, { cid: block.cid, session: fields.session })
      let state = moved.get(fields.session)
      if (state == null) {
        const current = await sessionHeads.get(fields.session)
        state = { heads: [...current?.heads ?? []], head: current?.head }
        moved.set(fields.session, state)
      }
      // A step has at most one parent here: a session with many open routes is not copied by text per step.
      const parent0 = parents[0]
      state.heads = parent0 != null ? state.heads.filter(h => !h.equals(parent0)) : state.heads
      state.heads.push(block.cid)
      state.head = block.cid
      appended.push({ session: fields.session, cid: block.cid, parents })
      await release(key)
      return block.cid
    }

    /** Writes the spans that waited for `key` (in the state, or set waiting by this write), under its step. */
    const release = async (key: string): Promise<void> => {
      for (const child of wait.byParent.get(key) ?? []) {
        if (released.has(child)) continue
        const w = await state.cbor<WaitingSpan>(keys.otlpWaiting(child))
        released.add(child)
        batch.delState(keys.otlpWaiting(child))
        if (w == null) continue
        await writeStep(child, w, known.get(key))
      }
      for (const [child, w] of [...added]) {
        if (w.parentKey !== key) continue
        added.delete(child)
        batch.delState(keys.otlpWaiting(child))
        await writeStep(child, w, known.get(key))
      }
    }

    /** Writes the waiting spans older than `before` (ms since the epoch) as roots, oldest first. */
    const expire = async (before: number): Promise<void> => {
      const due = [...wait.since].filter(([key, since]) => since <= before && !released.has(key)).sort((a, b) => a[1] - b[1]).map(([key]) => key)
      if (due.length === 0) return
      const parentOf = new Map<string, string>()
      for (const [parent, set] of wait.byParent) for (const k of set) parentOf.set(k, parent)
      // Those whose parent does not wait first: the spans under them follow with their parent.
      const order = [...due.filter(k => !wait.since.has(parentOf.get(k) ?? '')), ...due]
      for (const key of order) {
        if (released.has(key)) continue
        const w = await state.cbor<WaitingSpan>(keys.otlpWaiting(key))
        released.add(key)
        batch.delState(keys.otlpWaiting(key))
        if (w != null) await writeStep(key, w, await stored(w.parentKey))
      }
    }

    const defer = (key: string, w: WaitingSpan): void => {
      batch.putState(keys.otlpWaiting(key), dagCbor.encode(w))
      added.set(key, w)
    }

    /** Writes the batch (journaled), then brings the caches and listeners up to date. */
    const commit = (): void => {
      if (batch.ops.length === 0) return
      const commits = [...moved].map(([session, state]) => sessionHeads.set(batch, session, { heads: state.heads, head: state.head, dirty: true }))
      // Journaled: durable now, in LevelDB a few milliseconds later (see storage/journal.ts).
      journal.append(batch.ops)
      for (const c of commits) c()
      for (const key of released) {
        wait.since.delete(key)
        for (const [parent, set] of wait.byParent) if (set.delete(key) && set.size === 0) wait.byParent.delete(parent)
      }
      const since = Date.now()
      for (const [key, w] of added) {
        wait.since.set(key, since)
        let set = wait.byParent.get(w.parentKey)
        if (set == null) wait.byParent.set(w.parentKey, set = new Set())
        set.add(key)
      }
      if (events.listeners > 0) {
        // Each event gives its session's heads after the write: one text list per session.
        const headsText = new Map<string, string[]>()
        for (const a of appended) {
          let heads = headsText.get(a.session)
          if (heads == null) headsText.set(a.session, heads = (moved.get(a.session) as { heads: CID[] }).heads.map(String))
          events.publish('step:append', { session: a.session, cid: a.cid.toString(), parents: a.parents.map(String), heads })
        }
      }
    }

    return { stored, writeStep, expire, defer, commit, isWaiting, known, moved, appended }
  }

  return {
    async import (request, options) {
      const plans = planSpanSteps(await decode(request))
      const refs = await resolveRefs(plans, options)
      const waitMs = options?.waitForParentMs ?? 0
      return await exclusive(async () => {
        options?.signal?.throwIfAborted()
        const write = await createWrite(options)
        const now = Date.now()
        if (waitMs > 0) await write.expire(now - waitMs)
        const steps: ImportedSpan[] = []
        for (const plan of plans) {
          const [traceId = '', spanId = ''] = plan.key.split('/')
          const before = await write.stored(plan.key)
          if (before != null) {
            steps.push({ traceId, spanId, session: before.session, status: 'existing', cid: before.cid })
            continue
          }
          const fields = {
            session: plan.session,
            op: plan.op,
            content: plan.content,
            inputs: plan.inputs.map(r => refs.get(r) as CID),
            outputs: plan.outputs.map(r => refs.get(r) as CID),
            time: plan.time
          }
          // The parent span's step: written by this import (it comes first) or by an earlier one.
          const parent = plan.parentKey != null ? await write.stored(plan.parentKey) : undefined
          if (write.isWaiting(plan.key) || (plan.parentKey != null && parent == null && waitMs > 0)) {
            if (!write.isWaiting(plan.key)) write.defer(plan.key, { ...fields, parentKey: plan.parentKey as string, since: now })
            steps.push({ traceId, spanId, session: plan.session, status: 'waiting' })
            continue
          }
          // A parent never seen (and not waited for), or in another session, leaves the step a
          // root of its session (its content keeps parentSpanId).
          const cid = await write.writeStep(plan.key, fields, parent)
          steps.push({ traceId, spanId, session: plan.session, status: 'written', cid })
        }
        // A span set waiting by this import whose parent it wrote later (a waiting span's child) was written too.
        for (const s of steps) {
          const done = s.status === 'waiting' ? write.known.get(`${s.traceId}/${s.spanId}`) : undefined
          if (done != null) Object.assign(s, { status: 'written', cid: done.cid })
        }
        write.commit()
        const sessions = [...new Set([...steps.map(s => s.session), ...write.moved.keys()])].map(session => ({ session, heads: write.moved.get(session)?.heads ?? [] }))
        for (const s of sessions) {
          if (s.heads.length === 0) s.heads = (await sessionHeads.get(s.session))?.heads ?? []
        }
        const count = (status: ImportedSpan['status']): number => steps.filter(s => s.status === status).length
        return { spans: plans.length, written: write.appended.length, existing: count('existing'), waiting: count('waiting'), sessions, steps }
      }, { journaled: true })
    },

    async flush (options) {
      return await exclusive(async () => {
        const write = await createWrite(options)
        await write.expire(Date.now() - (options?.olderThanMs ?? 0))
        write.commit()
        return { written: write.appended.length }
      }, { journaled: true })
    }
  }
}
