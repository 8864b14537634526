import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { asJsonView } from '../core/json-view.ts'
import { LinkUnresolvedError, SessionNotFoundError, TraceStepInvalidError } from '../core/errors.ts'
import { checkSessionName, createTraceStep, decodeTraceStep, traceStepInputFromJson } from '../core/trace-step.ts'
import type { TraceStep } from '../core/trace-step.ts'
import { keys } from '../storage/state.ts'
import type { CallOptions, ServiceComponents } from './context.ts'

export interface StepRecord {
  cid: CID
  step: TraceStep
}

export interface AppendOptions extends CallOptions {
  /** Parents of the step; default: the session's current head (the step appended last). */
  parents?: CID[]
}

export interface AppendResult {
  cid: CID
  session: string
  parents: CID[]
  /** The session's heads after the append. */
  heads: CID[]
}

export interface SessionInfo {
  session: string
  heads: CID[]
}

/** Reasoning sessions: signed steps that form a DAG. */
export interface TraceService {
  /** Validates (JSON view), signs, stores a step and moves the session's heads. */
  append (session: string, json: unknown, options?: AppendOptions): Promise<AppendResult>
  /** All steps of a session in causal order (parents first; ties by time, then CID). */
  show (session: string, options?: CallOptions): AsyncIterable<StepRecord>
  heads (session: string): Promise<CID[]>
  /** The distinct routes from the session's roots to its heads (at most `limit`). */
  routes (session: string, options?: CallOptions & { limit?: number }): Promise<CID[][]>
  sessions (): AsyncIterable<SessionInfo>
}

/** What the trace service uses. */
export type TraceComponents = Pick<ServiceComponents, 'blocks' | 'journal' | 'signer' | 'state' | 'writeBatch' | 'exclusive' | 'events' | 'sessions'>

export function createTraceService ({ blocks, journal, signer, state, writeBatch, exclusive, events, sessions: sessionHeads }: TraceComponents): TraceService {
  const readStep = async (cid: CID, options?: CallOptions): Promise<TraceStep> => decodeTraceStep(cid, await blocks.get(cid, options))

  const heads = async (session: string): Promise<CID[]> => {
    checkSessionName(session)
    const list = (await sessionHeads.get(session))?.heads
    if (list == null) throw new SessionNotFoundError(`no session "${session}" in this repository`, { session })
    return list
  }

  /** Every step of a session, each once (the closure under its heads). */
  const collect = async (session: string, options?: CallOptions): Promise<Map<string, StepRecord>> => {
    const all = new Map<string, StepRecord>()
    const stack = [...await heads(session)]
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      const key = cid.toString()
      if (all.has(key)) continue
      const step = await readStep(cid, options)
      all.set(key, { cid, step })
      for (const p of step.parents) if (!all.has(p.toString())) stack.push(p)
    }
    return all
  }

  const causalOrder = (all: Map<string, StepRecord>): StepRecord[] => {
    const children = new Map<string, string[]>()
    const waiting = new Map<string, number>()
    for (const [key, { step }] of all) {
      const parents = step.parents.map(String).filter(p => all.has(p))
      waiting.set(key, parents.length)
      for (const p of parents) children.set(p, [...(children.get(p) ?? []), key])
    }
    const order = (a: string, b: string): number => {
      const ta = (all.get(a) as StepRecord).step.time
      const tb = (all.get(b) as StepRecord).step.time
      return ta !== tb ? ta - tb : a < b ? -1 : a > b ? 1 : 0
    }
    const ready = [...waiting].filter(([, n]) => n === 0).map(([k]) => k).sort(order)
    const out: StepRecord[] = []
    while (ready.length > 0) {
      const key = ready.shift() as string
      out.push(all.get(key) as StepRecord)
      for (const c of children.get(key) ?? []) {
        const left = (waiting.get(c) as number) - 1
        waiting.set(c, left)
        if (left === 0) {
          ready.push(c)
          ready.sort(order)
        }
      }
    }
    return out
  }

  return {
    append: async (session, json, options) => await exclusive(async () => {
      checkSessionName(session)
      const input = traceStepInputFromJson(asJsonView(json))
      const { heads: current, head } = await sessionHeads.get(session) ?? { heads: [], head: undefined }
      const parents = options?.parents ?? (head != null ? [head] : [])
      for (const p of parents) {
        if (head?.equals(p) === true) continue
        if (!await blocks.has(p)) throw new LinkUnresolvedError(`parent ${p} is not in this repository`, { cid: p.toString() })
        const parent = await readStep(p, options).catch(() => {
          throw new TraceStepInvalidError(`parent ${p} is not a trace step`, { cid: p.toString() })
        })
        if (parent.session !== session) throw new TraceStepInvalidError(`parent ${p} belongs to session "${parent.session}", not "${session}"`)
      }
      for (const link of [...input.inputs ?? [], ...input.outputs ?? []]) {
        if (!await blocks.has(link)) throw new LinkUnresolvedError(`step names frame ${link}, which is not in this repository`, { cid: link.toString() })
      }
      const block = await createTraceStep(signer, { ...input, session, parents })
      const gone = new Set(parents.map(String))
      const next = [...current.filter(h => !gone.has(h.toString())), block.cid]
      const batch = writeBatch().putBlock(block.cid, block.bytes)
      const moved = sessionHeads.set(batch, session, { heads: next, head: block.cid, dirty: true })
      // Journaled: durable now, in LevelDB a few milliseconds later (see storage/journal.ts).
      journal.append(batch.ops)
      moved()
      // Building the event's strings costs more than the rest of the bookkeeping: only with listeners.
      if (events.listeners > 0) events.publish('step:append', { session, cid: block.cid.toString(), parents: parents.map(String), heads: next.map(String) })
      return { cid: block.cid, session, parents, heads: next }
    }, { journaled: true }),

    async * show (session, options) {
      yield * causalOrder(await collect(session, options))
    },

    heads,

    routes: async (session, options) => {
      const all = await collect(session, options)
      const limit = options?.limit ?? 1000
      const routes: CID[][] = []
      // Depth-first from each head back to the roots, iteratively (sessions can be thousands of
      // steps deep); a path is a linked list so that branching does not copy it.
      interface Path { cid: CID, next: Path | undefined }
      const stack: Path[] = (await heads(session)).map(cid => ({ cid, next: undefined })).reverse()
      while (stack.length > 0 && routes.length < limit) {
        const path = stack.pop() as Path
        const parents = (all.get(path.cid.toString()) as StepRecord).step.parents.filter(p => all.has(p.toString()))
        if (parents.length === 0) {
          const route: CID[] = []
          for (let at: Path | undefined = path; at != null; at = at.next) route.push(at.cid)
          routes.push(route)
          continue
        }
        for (let i = parents.length - 1; i >= 0; i--) stack.push({ cid: parents[i] as CID, next: path })
      }
      return routes
    },

    async * sessions () {
      for await (const [session, value] of state.scan(keys.sessionHeadsPrefix)) {
        yield { session, heads: dagCbor.decode(value) as CID[] }
      }
    }
  }
}
