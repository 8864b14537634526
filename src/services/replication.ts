import { CID } from 'multiformats/cid'
import type { ChainEntry } from '../core/chain-entry.ts'
import { CoherenceError, TraceStepInvalidError, UsageError } from '../core/errors.ts'
import { isAncestor, readCommit } from '../core/history.ts'
import { checkSessionName, decodeTraceStep } from '../core/trace-step.ts'
import type { TraceStep } from '../core/trace-step.ts'
import type { Network } from '../network/index.ts'
import { indexChanges } from '../storage/frame-index.ts'
import { encodeCid, keys } from '../storage/state.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'
import type { RefService } from './refs.ts'
import type { SnapshotService } from './snapshots.ts'
import type { VerifyService } from './verify.ts'

export interface SyncProgress {
  peer: string
  want: string
  blocks: number
  bytes: number
}

export interface SyncResult {
  want: CID
  /** The peer that answered ('' when nothing was missing). */
  peer: string
  /** Blocks received and bytes of block data. */
  blocks: number
  bytes: number
  ms: number
}

export interface PublishResult {
  ref?: { name: string, head: CID }
  sessions: Record<string, CID[]>
  /** Blocks the coherence check read. */
  checked: number
}

export interface PublishOptions extends CallOptions {
  branch?: string | null
  sessions?: string[]
  /**
   * Check only what was added since the head this node last published (automatic publishing
   * does). Default: the whole DAG under the head.
   */
  incremental?: boolean
}

export interface RemoteRef {
  peer: string
  ref: string
  head: CID
}

export interface ReplicationService {
  /**
   * Runs the coherence check on `branch` (default: the current one, which must be `shared/*`)
   * and appends its head, and the heads of the sessions it names, to this node's chain.
   * `sessions` publishes the heads of those sessions too (or alone, with `branch: null`).
   */
  publish (options?: PublishOptions): Promise<PublishResult>
  /** Fetches what this node lacks of `want` from peers, checks it and makes it visible. */
  sync (want: CID, options?: CallOptions & ProgressOptions<SyncProgress> & { from?: string[], have?: CID[] }): Promise<SyncResult>
  /** Peers' published heads of shared branches that this node has synced. */
  remotes (): Promise<RemoteRef[]>
  /** Merges a peer's session heads into the local ones (the steps must be stored). */
  adoptHeads (session: string, remote: CID[], options?: CallOptions): Promise<CID[]>
  stop (): Promise<void>
}

export interface ReplicationOptions {
  /** Publish on every commit or fast-forward of a `shared/*` branch (default true). */
  autoPublish?: boolean
  /** Publish session heads after appends, coalesced over this many ms (default 200; 0: never). */
  sessionPublishMs?: number
  /** Largest sync answer accepted, bytes of block data (default 4 GiB). */
  maxSyncBytes?: number
  /** Give up a sync when the peer sends nothing for this long, ms (default: the protocol's 15 s). */
  syncIdleMs?: number
  log: { warn: (obj: object, msg: string) => void, info: (obj: object, msg: string) => void }
}

/** Clocks of two nodes may differ by this much without making an ancestry check of steps wrong. */
const CLOCK_SKEW_MS = 5 * 60_000
/** At most this many haves go with a sync request. */
const MAX_HAVES = 256
/** Failed syncs of chain entries are retried this often (and when a peer connects). */
const RETRY_MS = 3000

/**
 * The node in the swarm: publishes its shared branches and sessions on its chain, and turns the
 * chain entries of its peers into synced DAGs, remote-tracking refs (`remote <peer> shared/X`),
 * fast-forwards of its own `shared/*` branches, and merged session heads.
 * Choosing one head when branches have diverged is the consensus layer's job, not this one's:
 * a diverged branch keeps its local head and the peer's head stays visible as its remote ref.
 */
export function createReplicationService (components: ServiceComponents, services: { refs: RefService, snapshots: SnapshotService, verifier: VerifyService }, network: Network, options: ReplicationOptions): ReplicationService {
  const { repo, exclusive, events, sessions: sessionHeads } = components
  const { refs, snapshots, verifier } = services
  const { blocks, state } = repo
  const log = options.log
  const maxBytes = options.maxSyncBytes ?? 4 * 1024 ** 3

  // -------------------------------------------------------------------------------------------
  // Sync

  const sync: ReplicationService['sync'] = async (want, opts = {}) => {
    const started = performance.now()
    if (await blocks.has(want)) return { want, peer: '', blocks: 0, bytes: 0, ms: 0 }
    let answer: { peer: string, car: AsyncIterable<Uint8Array>, partial: boolean }
    try {
      answer = { ...await network.fetch(want, (opts.have ?? []).slice(0, MAX_HAVES), { signal: opts.signal, from: opts.from, idleMs: options.syncIdleMs }), partial: true }
    } catch (err) {
      // No peer speaks framehub sync (stock IPFS peers): fall back to bitswap, block by block.
      if ((err as { code?: string }).code !== 'ERR_PEER_UNREACHABLE') throw err
      log.info({ want: want.toString(), err: (err as Error).message }, 'no peer answers framehub sync; fetching with bitswap')
      answer = { peer: 'bitswap', car: network.bitswapCar(want, { signal: opts.signal }), partial: false }
    }
    const { peer, car } = answer
    const stats = await snapshots.importCar(car, {
      signal: opts.signal,
      maxBytes,
      root: want,
      // A bitswap walk stores what it fetches as it goes, so nothing stored is trusted to be complete.
      partial: answer.partial,
      onProgress: (e) => {
        const d = e.detail as { blocks: number, bytes: number }
        const detail = { peer, want: want.toString(), blocks: d.blocks, bytes: d.bytes }
        opts.onProgress?.({ type: 'sync:progress', detail })
        if (e.type.endsWith(':progress')) events.publish('sync:progress', detail)
      }
    })
    const result = { want, peer, blocks: stats.blocks, bytes: stats.bytes, ms: performance.now() - started }
    events.publish('sync:done', { want: want.toString(), peer, blocks: stats.blocks, bytes: stats.bytes, ms: Math.round(result.ms) })
    return result
  }

  // -------------------------------------------------------------------------------------------
  // Sessions

  const readStep = async (cid: CID, o?: CallOptions): Promise<TraceStep> => decodeTraceStep(cid, await blocks.get(cid, o))

  const adoptHeads: ReplicationService['adoptHeads'] = async (session, remote, o) => await exclusive(async () => {
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
    const batch = repo.batch()
    const moved = sessionHeads.set(batch, session, { heads: next.map(c => c.cid), head, dirty: current?.dirty ?? false })
    await batch.write()
    moved()
    events.publish('step:append', { session, cid: String(head), parents: [], heads: next.map(c => c.cid.toString()) })
    return next.map(c => c.cid)
  })

  // -------------------------------------------------------------------------------------------
  // Refs

  const remoteHead = async (peer: string, ref: string): Promise<CID | undefined> => await state.cid(keys.remote(peer, ref))

  /** Moves a local shared branch to `to` when that is a fast-forward and nothing is staged on it. */
  const fastForward = async (branch: string, to: CID): Promise<string> => await exclusive(async () => {
    const from = await refs.branchHead(branch)
    if (from?.equals(to) === true) return 'up-to-date'
    if (from != null && await isAncestor(blocks, to, from)) return 'ahead'
    if (from != null && !await isAncestor(blocks, from, to)) return 'diverged'
    if (await state.cid(keys.work(branch)) != null) return 'staged'
    const treeOf = async (c: CID | undefined): Promise<CID> => c == null ? EMPTY_TREE : (await readCommit(blocks, c)).tree
    const batch = repo.batch().putState(keys.ref(branch), encodeCid(to))
    await indexChanges(batch, branch, await treeOf(from), await treeOf(to))
    await batch.write()
    events.publish('ref:move', { ref: branch, from: from?.toString() ?? null, to: to.toString(), reason: from == null ? 'branch-create' : 'fast-forward' })
    return 'fast-forward'
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

  // -------------------------------------------------------------------------------------------
  // Chain entries of peers

  /** The newest ref update per ref and the newest heads per session, of a batch of entries. */
  const fold = (entries: ChainEntry[]): { refs: Map<string, CID>, sessions: Map<string, CID[]> } => {
    const out = { refs: new Map<string, CID>(), sessions: new Map<string, CID[]>() }
    for (const e of entries) {
      if (e.ref != null) out.refs.set(e.ref.name, CID.parse(e.ref.head))
      for (const [name, heads] of Object.entries(e.sessions ?? {})) out.sessions.set(name, heads.map(h => CID.parse(h)))
    }
    return out
  }

  /** Work that failed (peer away, bad answer), kept per peer for a retry: newest wins. */
  const retry = new Map<string, ChainEntry[]>()

  const apply = async (peer: string, entries: ChainEntry[]): Promise<void> => {
    const { refs: refUpdates, sessions } = fold(entries)
    for (const [name, heads] of sessions) {
      const have = await sessionHaves([name])
      for (const head of heads) await sync(head, { from: [peer], have })
      await adoptHeads(name, heads)
    }
    for (const [ref, head] of refUpdates) {
      if ((await remoteHead(peer, ref))?.equals(head) === true) continue
      await sync(head, { from: [peer], have: await refHaves(ref) })
      await repo.batch().putState(keys.remote(peer, ref), encodeCid(head)).write()
      const outcome = await fastForward(ref, head)
      log.info({ peer, ref, head: head.toString(), outcome }, 'peer published a head')
    }
  }

  let stopped = false
  const handle = async (peer: string, entries: ChainEntry[]): Promise<void> => {
    const queued = [...retry.get(peer) ?? [], ...entries]
    retry.delete(peer)
    try {
      await apply(peer, queued)
    } catch (err) {
      if (stopped) return
      retry.set(peer, queued)
      log.warn({ peer, err: (err as Error).message, code: (err as { code?: string }).code }, 'sync of a peer chain entry failed; will retry')
    }
  }
  // One peer's entries at a time, in order; other peers' wait behind (syncs share the write lock).
  let queue: Promise<void> = Promise.resolve()
  const enqueue = (peer: string, entries: ChainEntry[]): Promise<void> => {
    queue = queue.then(async () => { await handle(peer, entries) })
    return queue
  }
  network.onChainEntries(async (peer, entries) => { await enqueue(peer, entries) })
  const retryAll = (): void => {
    for (const peer of [...retry.keys()]) void enqueue(peer, [])
  }
  network.onPeerConnect(() => { retryAll() })
  const retryTimer = setInterval(retryAll, RETRY_MS)
  retryTimer.unref()

  // -------------------------------------------------------------------------------------------
  // Publishing

  const publish: ReplicationService['publish'] = async (o = {}) => {
    const branch = o.branch === null ? undefined : o.branch ?? await refs.currentBranch()
    const out: PublishResult = { sessions: {}, checked: 0 }
    const sessionNames = new Set(o.sessions ?? [])
    if (branch != null) {
      if (!branch.startsWith('shared/')) throw new UsageError(`only shared/* branches are published, not "${branch}" (create one: framehub branch shared/${branch})`)
      const head = await refs.branchHead(branch)
      if (head == null) throw new UsageError(`branch ${branch} has no commit to publish yet`)
      // Only what was added since the last head this node published (and checked) is checked again.
      const last = o.incremental === true ? await state.cid(keys.published(branch)) : undefined
      const report = await verifier.verify(head.toString(), { ...o, since: last != null ? [last] : undefined })
      out.checked = report.blocks
      if (!report.ok) {
        throw new CoherenceError(`${branch} fails the coherence check (${report.problems.length} problems, first: ${report.problems[0]?.message ?? 'unknown'}); nothing was published`, { ref: branch })
      }
      out.ref = { name: branch, head }
      const commit = await readCommit(blocks, head)
      for (const s of commit.sessions ?? []) sessionNames.add((await readStep(s)).session)
    }
    for (const name of sessionNames) {
      const heads = (await sessionHeads.get(name))?.heads
      if (heads != null) out.sessions[name] = heads
    }
    if (out.ref == null && Object.keys(out.sessions).length === 0) throw new UsageError('nothing to publish')
    const entry = network.publish({
      ...(out.ref != null ? { ref: { name: out.ref.name, head: out.ref.head.toString() } } : {}),
      ...(Object.keys(out.sessions).length > 0 ? { sessions: Object.fromEntries(Object.entries(out.sessions).map(([k, v]) => [k, v.map(String)])) } : {})
    })
    await entry
    if (out.ref != null) await repo.batch().putState(keys.published(out.ref.name), encodeCid(out.ref.head)).write()
    // With --public, the published heads become findable by any IPFS node.
    if (out.ref != null) network.provide(out.ref.head)
    for (const heads of Object.values(out.sessions)) for (const h of heads) network.provide(h)
    events.publish('publish', { ref: out.ref?.name ?? null, head: out.ref?.head.toString() ?? null, sessions: Object.keys(out.sessions) })
    return out
  }

  // Automatic publishing: commits to shared/* branches, and session heads after appends (coalesced).
  const dirtySessions = new Set<string>()
  let sessionTimer: NodeJS.Timeout | undefined
  const sessionDelay = options.sessionPublishMs ?? 200
  const flushSessions = (): void => {
    sessionTimer = undefined
    const names = [...dirtySessions]
    dirtySessions.clear()
    publish({ branch: null, sessions: names }).catch((err: unknown) => { log.warn({ err: (err as Error).message, sessions: names }, 'publishing session heads failed') })
  }
  const unsubscribe = events.subscribe((e) => {
    if (stopped) return
    if (e.type === 'ref:move' && options.autoPublish !== false) {
      const move = e.detail as { ref: string, to: string | null, reason: string }
      if (move.ref.startsWith('shared/') && move.to != null && move.reason !== 'import') {
        // A fast-forward to a peer's head is published too: it is this node's proposal from now on.
        publish({ branch: move.ref, incremental: true }).catch((err: unknown) => { log.warn({ err: (err as Error).message, ref: move.ref }, 'automatic publish failed') })
      }
    } else if (e.type === 'step:append' && sessionDelay > 0) {
      dirtySessions.add((e.detail as { session: string }).session)
      sessionTimer ??= setTimeout(flushSessions, sessionDelay)
    }
  })

  return {
    publish,
    sync,
    adoptHeads,
    async remotes () {
      const out: RemoteRef[] = []
      for await (const [key, value] of state.scan(keys.remotePrefix)) {
        const space = key.indexOf(' ')
        out.push({ peer: key.slice(0, space), ref: key.slice(space + 1), head: CID.decode(value) })
      }
      return out
    },
    async stop () {
      stopped = true
      unsubscribe()
      clearInterval(retryTimer)
      if (sessionTimer != null) { clearTimeout(sessionTimer); flushSessions() }
      await queue
    }
  }
}
