import { CID } from 'multiformats/cid'
import type * as Wire from '../core/api-types.ts'
import { cidString } from '../core/cid.ts'
import { frameToJson } from '../core/frame.ts'
import type { Frame } from '../core/frame.ts'
import { fromJsonView, toJsonView } from '../core/json-view.ts'
import type { Frame as FrameJson, TraceStep as TraceStepJson } from '../core/schema-types.ts'
import type { TraceStep } from '../core/trace-step.ts'
import type { FrameChange } from './commits.ts'
import type { FrameHistory, FrameRecord, FrameStep } from './frames.ts'
import type { BranchInfo } from './refs.ts'

/*
 * The JSON views of service results as the gateway sends them (`xView`) and the client reads them
 * back (`xOf`): one conversion each way, typed by the wire types generated from schemas/api
 * (src/core/api-types.ts), so a route and the client cannot drift apart.
 */

const cidOrNull = (cid: CID | null): string | null => cid == null ? null : cidString(cid)
const parsedOrNull = (text: string | null): CID | null => text == null ? null : CID.parse(text)

export const frameRecordView = (r: FrameRecord): Wire.FrameRecord =>
  // frameToJson gives the JSON view frame.schema.json describes (what FrameJson types).
  ({ id: r.id, cid: cidString(r.cid), frame: frameToJson(r.frame) as unknown as FrameJson, ...(r.confirmed !== undefined ? { confirmed: r.confirmed } : {}) })

export const frameRecordOf = (view: Wire.FrameRecord): FrameRecord =>
  ({ id: view.id, cid: CID.parse(view.cid), frame: fromJsonView(view.frame) as Frame, ...(view.confirmed !== undefined ? { confirmed: view.confirmed } : {}) })

const stepsView = (steps: FrameStep[]): Wire.Steps => steps.map(s => ({ cid: cidString(s.cid), step: toJsonView(s.step) as TraceStepJson }))
const stepsOf = (views: Wire.Steps): FrameStep[] => views.map(v => ({ cid: CID.parse(v.cid), step: fromJsonView(v.step) as TraceStep }))

export const frameHistoryView = (h: FrameHistory): Wire.FrameHistory => ({
  id: h.id,
  branch: h.branch,
  head: cidOrNull(h.head),
  staged: h.staged == null ? null : { cid: cidOrNull(h.staged.cid), steps: stepsView(h.staged.steps) },
  versions: h.versions.map(v => ({
    commit: cidString(v.commit),
    author: v.author,
    time: v.time,
    message: v.message,
    cid: cidOrNull(v.cid),
    steps: stepsView(v.steps)
  })),
  stepsComplete: h.stepsComplete
})

export const frameHistoryOf = (view: Wire.FrameHistory): FrameHistory => ({
  id: view.id,
  branch: view.branch,
  head: parsedOrNull(view.head),
  staged: view.staged == null ? null : { cid: parsedOrNull(view.staged.cid), steps: stepsOf(view.staged.steps) },
  versions: view.versions.map(v => ({ commit: CID.parse(v.commit), author: v.author, time: v.time, message: v.message, cid: parsedOrNull(v.cid), steps: stepsOf(v.steps) })),
  stepsComplete: view.stepsComplete
})

export const branchView = (b: BranchInfo): Wire.Branch => ({ name: b.name, commit: b.commit.toString(), current: b.current })

export const branchOf = (view: Wire.Branch): BranchInfo => ({ name: view.name, commit: CID.parse(view.commit), current: view.current })

export const changeView = (c: FrameChange): Wire.Change => ({ id: c.id, before: cidOrNull(c.before), after: cidOrNull(c.after) })

export const changeOf = (view: Wire.Change): FrameChange => ({ id: view.id, before: parsedOrNull(view.before), after: parsedOrNull(view.after) })
