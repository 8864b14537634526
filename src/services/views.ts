import { CID } from 'multiformats/cid'
import type * as Wire from '../core/api-types.ts'
import { cidString } from '../core/cid.ts'
import { frameToJson } from '../core/frame.ts'
import type { Frame } from '../core/frame.ts'
import { fromJsonView, toJsonView } from '../core/json-view.ts'
import type { Frame as FrameJson, TraceStep as TraceStepJson } from '../core/schema-types.ts'
import type { TraceStep } from '../core/trace-step.ts'
import type { ProposalGroup } from '../core/consensus/index.ts'
import type { FrameChange } from './commits.ts'
import type { ConsensusView } from './consensus.ts'
import type { FrameIndexService, IndexStatus } from './frame-index.ts'
import type { FrameHistory, FrameRecord, FrameStep } from './frames.ts'
import type { GcResult } from './gc.ts'
import type { BranchInfo } from './refs.ts'
import type { PublishResult, RemoteRef, SyncResult } from './replication.ts'
import type { SpanImportResult } from './span-import.ts'

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

export const publishResultView = (r: PublishResult): Wire.PublishResult => ({
  ...(r.ref != null ? { ref: { name: r.ref.name, head: r.ref.head.toString() } } : {}),
  sessions: Object.fromEntries(Object.entries(r.sessions).map(([k, v]) => [k, v.map(String)])),
  checked: r.checked
})

export const publishResultOf = (view: Wire.PublishResult): PublishResult => ({
  ...(view.ref != null ? { ref: { name: view.ref.name, head: CID.parse(view.ref.head) } } : {}),
  sessions: Object.fromEntries(Object.entries(view.sessions).map(([k, v]) => [k, v.map(h => CID.parse(h))])),
  checked: view.checked
})

export const remotesView = (remotes: RemoteRef[]): Wire.Remotes => ({ remotes: remotes.map(r => ({ peer: r.peer, ref: r.ref, head: r.head.toString() })) })

export const remotesOf = (view: Wire.Remotes): RemoteRef[] => view.remotes.map(r => ({ peer: r.peer, ref: r.ref, head: CID.parse(r.head) }))

/** The sync's duration travels in whole ms. */
export const syncResultView = (r: SyncResult): Wire.SyncResult => ({ want: r.want.toString(), peer: r.peer, blocks: r.blocks, bytes: r.bytes, ms: Math.round(r.ms) })

export const syncResultOf = (view: Wire.SyncResult): SyncResult => ({ want: CID.parse(view.want), peer: view.peer, blocks: view.blocks, bytes: view.bytes, ms: view.ms })

/**
 * A decision as JSON: what `framehub consensus --json` prints, `GET /api/v1/consensus/{branch}`
 * answers and the client returns as it is (the consensus API is JSON documents on every side).
 */
export const consensusView = (v: ConsensusView): Wire.Consensus => ({
  branch: v.branch,
  head: v.head.toString(),
  decision: v.decision.toString(),
  votes: v.votes.map(g => ({ head: g.head.toString(), nodes: g.nodes, weight: g.weight, commits: g.commits.map(String) })),
  candidates: v.candidates.map(c => ({
    commit: c.commit.toString(),
    node: c.node,
    height: c.height,
    score: c.score,
    terms: c.terms.map(t => {
      const g = v.votes[t.proposal] as ProposalGroup
      return { vote: g.head.toString(), weight: g.weight, conv: t.conv, contained: t.contained }
    })
  })),
  forks: v.forks.map(f => ({ id: f.id, ours: cidOrNull(f.ours), theirs: cidOrNull(f.theirs) })),
  maximal: v.maximal.map(String),
  proposals: v.proposals.map(p => ({ node: p.node, head: p.head.toString(), weight: p.weight })),
  convergence: v.convergence,
  conflictRate: v.conflictRate
})

/** What the API tells of a collection (not its roots and missing blocks, which stay in-process). */
export const gcResultView = (r: Wire.GcResult): Wire.GcResult => ({ removed: r.removed, kept: r.kept, bytesFreed: r.bytesFreed, dryRun: r.dryRun })

export const gcResultOf = (view: Wire.GcResult): Pick<GcResult, keyof Wire.GcResult> => ({ removed: view.removed, kept: view.kept, bytesFreed: view.bytesFreed, dryRun: view.dryRun })

export const indexStatusView = (s: IndexStatus): Wire.BranchIndexStatus =>
  ({ branch: s.branch, head: s.head?.toString() ?? null, indexed: s.indexed?.toString() ?? null, current: s.current })

export const indexStatusOf = (view: Wire.BranchIndexStatus): IndexStatus =>
  ({ branch: view.branch, head: parsedOrNull(view.head), indexed: parsedOrNull(view.indexed), current: view.current })

/** What a rebuild or catch-up did to one branch's index. */
type IndexUpdate = Awaited<ReturnType<FrameIndexService['catchUp']>>

export const indexUpdateView = (u: IndexUpdate): Wire.BranchIndexUpdate =>
  ({ branch: u.branch, mode: u.mode, tree: u.tree?.toString() ?? null, frames: u.frames, keys: u.keys })

export const indexUpdateOf = (view: Wire.BranchIndexUpdate): IndexUpdate =>
  ({ branch: view.branch, mode: view.mode, tree: parsedOrNull(view.tree), frames: view.frames, keys: view.keys })

export const spanImportResultView = (r: SpanImportResult): Wire.SpanImportResult => ({
  spans: r.spans,
  written: r.written,
  existing: r.existing,
  waiting: r.waiting,
  sessions: r.sessions.map(s => ({ session: s.session, heads: s.heads.map(String) })),
  steps: r.steps.map(s => ({ traceId: s.traceId, spanId: s.spanId, session: s.session, status: s.status, ...(s.cid != null ? { cid: s.cid.toString() } : {}) }))
})

export const spanImportResultOf = (view: Wire.SpanImportResult): SpanImportResult => ({
  spans: view.spans,
  written: view.written,
  existing: view.existing,
  waiting: view.waiting,
  sessions: view.sessions.map(s => ({ session: s.session, heads: s.heads.map(h => CID.parse(h)) })),
  steps: view.steps.map(({ cid, ...s }) => ({ ...s, ...(cid != null ? { cid: CID.parse(cid) } : {}) }))
})
