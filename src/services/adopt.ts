import { CID } from 'multiformats/cid'
import { TraceStepInvalidError } from '../core/errors.ts'
import { CommitGraph, flatten } from '../core/consensus/index.ts'
import { isAncestor, readCommit } from '../core/history.ts'
import { checkSessionName, decodeTraceStep } from '../core/trace-step.ts'
import type { TraceStep } from '../core/trace-step.ts'
import { indexChanges } from '../storage/frame-index/update.ts'
import { encodeCid, keys } from '../storage/state.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ServiceComponents } from './context.ts'
import type { Refs } from './refs.ts'

export interface RemoteRef {
  peer: string
  ref: string
  head: CID
}

/** Outcome of offering a peer's head to a local shared branch. */
export type FastForwardOutcome = 'up-to-date' | 'ahead' | 'diverged' | 'staged' | 'fast-forward'

/** What a node does with heads its peers published (their DAGs already synced). */
export interface Adoption {
  /** Merges a peer's session heads into the local ones (the steps must be stored). */
  adoptHeads (session: string, remote: CID[], options?: CallOptions): Promise<CID[]>
  /** Moves a local shared branch to `to` when that is a fast-forward and nothing is staged on it. */
  fastForward (branch: string, to: CID): Promise<FastForwardOutcome>
  /**
   * Moves a local shared branch to the canonical head `to` when `to` contains every real commit
   * of the local head (the local head itself, or the commits a local consensus commit merges: a
   * consensus commit of the same heads in another order is replaced, nothing is lost), and
   * nothing is staged on the branch.
   */
  adoptCanonical (branch: string, to: CID): Promise<FastForwardOutcome>
  /** The head `peer` last published of `ref`, as recorded here. */
  remoteHead (peer: string, ref: string): Promise<CID | undefined>
  /** Records `head` as `peer`'s head of `ref` (a remote-tracking ref; a root for gc). */
  setRemoteHead (peer: string, ref: string, head: CID): Promise<void>
  /** Every remote-tracking ref. */
  remotes (): Promise<RemoteRef[]>
  /** Haves for a sync of `ref`: what this node holds of it, locally and from every peer. */
  refHaves (ref: string): Promise<CID[]>
  /** Haves for a sync of these sessions: their local heads. */
  sessionHaves (names: string[]): Promise<CID[]>
}

/** Clocks of two nodes may differ by this much without making an ancestry check of steps wrong. */
const CLOCK_SKEW_MS = 5 * 60_000

/** What the adoption of heads uses. */
export type AdoptionComponents = Pick<ServiceComponents, 'blocks' | 'state' | 'writeBatch' | 'exclusive' | 'events' | 'sessions'>

export function createAdoption (components: AdoptionComponents, refs: Refs): Adoption {
  const { blocks, state, writeBatch, exclusive, events, sessions: sessionHeads } = components

  const readStep = async (cid: CID, o?: CallOptions): Promise<TraceStep> => decodeTraceStep(cid, await blocks.get(cid, o))

  const adoptHeads = async (session: string, remote: CID[], o?: CallOptions): Promise<CID[]> => await exclusive(async () => {
    checkSessionName(session)
    const current = await sessionHeads.get(session)
    const heads = current?.heads ?? []
    const candidates = new Map<string, { cid: CID, time: number }>()
    for (const cid of [...heads, ...remote]) {
      if (candidates.has(cid.toString())) continue
      const step = await readStep(cid, o)
      if (step.session !== session) throw new TraceStepInvalidError(`step ${cid} belongs to session "${step.session}", not "${session}"`)
      candidates.set(cid.toString(), { cid, time: step.time })
    }
    if (candidates.size === heads.length) return heads
    // Drop every candidate that another one descends from: one walk down from all of them, never
    // below the oldest candidate (less the skew two clocks may have).
    const floor = Math.min(...[...candidates.values()].map(c => c.time)) - CLOCK_SKEW_MS
    const reached = new Set<string>()
    const stack: CID[] = []
    for (const { cid } of candidates.values()) stack.push(...(await readStep(cid, o)).parents)
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      const k = cid.toString()
      if (reached.has(k)) continue
      reached.add(k)
      const step = await readStep(cid, o)
      if (step.time < floor) continue
      for (const p of step.parents) if (!reached.has(p.toString())) stack.push(p)
    }
    const next = [...candidates.values()].filter(c => !reached.has(c.cid.toString())).sort((a, b) => a.time - b.time)
    // The default parent: the local last step while it is still a head, else the newest head.
    const local = current?.head
    const head = local != null && next.some(c => c.cid.equals(local)) ? local : next[next.length - 1]?.cid
    const batch = writeBatch()
    const moved = sessionHeads.set(batch, session, { heads: next.map(c => c.cid), head, dirty: current?.dirty ?? false })
    await batch.write()
    moved()
    events.publish('step:append', { session, cid: String(head), parents: [], heads: next.map(c => c.cid.toString()) })
    return next.map(c => c.cid)
  })

  const remoteHead = async (peer: string, ref: string): Promise<CID | undefined> => await state.cid(keys.remote(peer, ref))

  /** Moves a local shared branch to `to` when that is a fast-forward and nothing is staged on it. */
  /**
   * Moves a local shared branch from its head to `to` when `check` lets `to` replace it (answers
   * undefined) and nothing is staged on it; re-indexes it and announces the move. One write lock
   * around the whole read, check and write.
   */
  const moveBranch = async (branch: string, to: CID, reason: 'fast-forward' | 'consensus', check: (from: CID) => Promise<FastForwardOutcome | undefined>): Promise<FastForwardOutcome> => await exclusive(async () => {
    const from = await refs.branchHead(branch)
    if (from?.equals(to) === true) return 'up-to-date'
    const refused = from == null ? undefined : await check(from)
    if (refused !== undefined) return refused
    if (await state.cid(keys.work(branch)) != null) return 'staged'
    const treeOf = async (c: CID | undefined): Promise<CID> => c == null ? EMPTY_TREE : (await readCommit(blocks, c)).tree
    const batch = writeBatch().putState(keys.ref(branch), encodeCid(to))
    await indexChanges(batch, branch, await treeOf(from), await treeOf(to))
    await batch.write()
    events.publish('ref:move', { ref: branch, from: from?.toString() ?? null, to: to.toString(), reason: from == null ? 'branch-create' : reason })
    return 'fast-forward'
  })

  const fastForward = async (branch: string, to: CID): Promise<FastForwardOutcome> => await moveBranch(branch, to, 'fast-forward', async (from) => {
    if (await isAncestor(blocks, to, from)) return 'ahead'
    if (!await isAncestor(blocks, from, to)) return 'diverged'
    return undefined
  })

  const adoptCanonical = async (branch: string, to: CID): Promise<FastForwardOutcome> => await moveBranch(branch, to, 'consensus', async (from) => {
    const graph = new CommitGraph(blocks)
    if (await graph.contains(from, to)) return 'ahead'
    for (const real of await flatten(graph, from)) if (!await graph.contains(to, real)) return 'diverged'
    return undefined
  })

  /** Haves for a sync of `ref`: what this node holds of it, locally and from every peer. */
  const refHaves = async (ref: string): Promise<CID[]> => {
    const out: CID[] = []
    const local = await refs.branchHead(ref).catch(() => undefined)
    if (local != null) out.push(local)
    for await (const [key, value] of state.scan(keys.remotePrefix)) {
      if (key.endsWith(` ${ref}`)) out.push(CID.decode(value))
    }
    return out
  }

  const sessionHaves = async (names: string[]): Promise<CID[]> => {
    const out: CID[] = []
    for (const name of names) out.push(...(await sessionHeads.get(name))?.heads ?? [])
    return out
  }

  return {
    adoptHeads,
    fastForward,
    adoptCanonical,
    remoteHead,
    setRemoteHead: async (peer, ref, head) => { await writeBatch().putState(keys.remote(peer, ref), encodeCid(head)).write() },
    async remotes () {
      const out: RemoteRef[] = []
      for await (const [key, value] of state.scan(keys.remotePrefix)) {
        const space = key.indexOf(' ')
        out.push({ peer: key.slice(0, space), ref: key.slice(space + 1), head: CID.decode(value) })
      }
      return out
    },
    refHaves,
    sessionHaves
  }
}
