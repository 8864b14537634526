import { CID } from 'multiformats/cid'
import type { ChainEntry } from '../core/chain-entry.ts'
import type { Network } from '../network/index.ts'
import { createAdoption } from './adopt.ts'
import type { AdoptionComponents } from './adopt.ts'
import type { RemoteRef } from './adopt.ts'
import type { ConsensusService } from './consensus.ts'
import type { FingerprintStore } from './fingerprints.ts'
import { createHeadCheck } from './head-check.ts'
import type { CallOptions } from './context.ts'
import { createPublisher } from './publish.ts'
import type { PublisherComponents } from './publish.ts'
import type { PublishOptions, PublishResult } from './publish.ts'
import type { Refs } from './refs.ts'
import type { SnapshotService } from './snapshots.ts'
import { createSync } from './sync.ts'
import type { SyncComponents } from './sync.ts'
import type { SyncOptions, SyncResult } from './sync.ts'
import type { VerifyService } from './verify.ts'

export type { RemoteRef } from './adopt.ts'
export type { PublishOptions, PublishResult } from './publish.ts'
export type { SyncProgress, SyncResult } from './sync.ts'

/** The node in the swarm, as the CLI, the API and the node see it. */
export interface ReplicationService {
  /** See `Publisher.publish` (publish.ts). */
  publish (options?: PublishOptions): Promise<PublishResult>
  /** Fetches what this node lacks of `want` from peers, checks it and makes it visible (sync.ts). */
  sync (want: CID, options?: SyncOptions): Promise<SyncResult>
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
  /**
   * Follow consensus on `shared/*` branches (default true): after a peer publishes a head, decide
   * the canonical head and adopt it when it contains the local head (then it is published as this
   * node's proposal). Off: only fast-forwards to a peer's head, and diverged heads stay remote refs.
   */
  follow?: boolean
  /** Least time between two decisions on one branch, ms (default 200): bursts of heads are decided once. */
  followIntervalMs?: number
  log: { warn: (obj: object, msg: string) => void, info: (obj: object, msg: string) => void, debug?: (obj: object, msg: string) => void }
}

/**
 * Longest time a decision waits for chain entries already queued (see `waiting`). The newest
 * entries of every chain come together when nodes meet (the heads message, network/heads.ts), so
 * the burst a decision should see is in by then; at 1 s, the heal bench's slowest rounds were
 * nodes that held every proposal and waited for entries that changed nothing (0.4 s in a round
 * of 2.0 s). 48 rounds at 300 ms healed in 0.69–1.81 s, where 3 of 106 at 1 s took 2.02–2.2 s.
 */
const MAX_FOLLOW_WAIT_MS = 300

/** Peers whose chain entries are handled at the same time (each peer's in order). */
const MAX_PEERS_AT_ONCE = 4

/** Failed syncs of chain entries are retried this often (and when a peer connects). */
const RETRY_MS = 3000

/** What replication uses: what its sync, adoption and publisher use. */
export type ReplicationComponents = SyncComponents & AdoptionComponents & PublisherComponents

/**
 * The node in the swarm: publishes its shared branches and sessions on its chain (publish.ts),
 * and turns the chain entries of its peers into synced DAGs (sync.ts), remote-tracking refs,
 * fast-forwards of its own `shared/*` branches and merged session heads (adopt.ts). This file
 * only follows the peers' chains: their entries, in order per peer, retried when they fail.
 * Choosing one head when branches have diverged is the consensus layer's job, not this one's:
 * a diverged branch keeps its local head and the peer's head stays visible as its remote ref.
 */
export function createReplicationService (components: ReplicationComponents, services: { refs: Refs, snapshots: SnapshotService, verifier: VerifyService, consensus: ConsensusService, fingerprints: FingerprintStore }, network: Network, options: ReplicationOptions): ReplicationService {
  const log = options.log
  const sync = createSync(components, services.snapshots, network, options)
  const adoption = createAdoption(components, services.refs)
  const publisher = createPublisher(components, services, network, options)
  const checkHead = createHeadCheck(sync, services.verifier)
  const following = options.follow !== false
  const followInterval = options.followIntervalMs ?? 200

  /**
   * Following consensus: decide the branch's canonical head and adopt it when it contains the
   * local head (a fast-forward, published by the publisher as this node's new proposal). When it
   * does not (local commits not yet published, or this node does not vote), the local head stays:
   * once published, it is a candidate of the next decision. At most one decision per branch per
   * `followIntervalMs`; heads that arrive meanwhile are decided together.
   */
  const pendingFollow = new Map<string, NodeJS.Timeout | 'running' | 'again'>()
  /** When each branch was last decided: the next decision waits out the rest of the interval. */
  const lastFollow = new Map<string, number>()
  /**
   * Branches whose decision waits for the peers' chain entries already queued (a node that comes
   * back reads several chains at once: deciding after the first would adopt a head the next one
   * replaces), with when they began to wait: at most MAX_FOLLOW_WAIT_MS.
   */
  const waiting = new Map<string, number>()
  const follow = (ref: string): void => {
    if (!following || !ref.startsWith('shared/') || stopped) return
    if (batchesQueued > 0) {
      const since = waiting.get(ref) ?? performance.now()
      if (performance.now() - since < MAX_FOLLOW_WAIT_MS) { waiting.set(ref, since); return }
    }
    waiting.delete(ref)
    const at = pendingFollow.get(ref)
    if (at === 'running') { pendingFollow.set(ref, 'again'); return }
    if (at !== undefined) return
    // The first head after a quiet spell is decided at once (on the next turn of the event loop,
    // so heads of one batch go together); a burst after that waits out the interval.
    const wait = Math.max(0, (lastFollow.get(ref) ?? -Infinity) + followInterval - performance.now())
    pendingFollow.set(ref, setTimeout(() => { void runFollow(ref) }, wait))
  }
  const runFollow = async (ref: string): Promise<void> => {
    pendingFollow.set(ref, 'running')
    lastFollow.set(ref, performance.now())
    try {
      const decided = await services.consensus.decide(ref)
      log.debug?.({ ref, head: decided.head.toString(), candidates: decided.candidates.length, maximal: decided.maximal.map(String), votes: decided.votes.map(v => ({ head: v.head.toString(), nodes: v.nodes, commits: v.commits.map(String) })) }, 'consensus decision made')
      const before = await services.refs.branchHead(ref)
      const outcome = await adoption.adoptCanonical(ref, decided.head)
      if (outcome === 'fast-forward') {
        // The authors of the heads that the adopted head brought in are credited in their fingerprints.
        const authors = decided.candidates.filter(c => decided.maximal.some(m => m.equals(c.commit)) && !c.commit.equals(before ?? c.commit) && c.node !== '').map(c => c.node)
        await services.fingerprints.credited([...new Set(authors)])
      }
      if (outcome !== 'up-to-date') log.info({ ref, head: decided.head.toString(), decision: decided.decision.toString(), outcome, candidates: decided.candidates.length, maximal: decided.maximal.length }, 'consensus decided')
    } catch (err) {
      if (!stopped) log.warn({ ref, err: (err as Error).message, code: (err as { code?: string }).code }, 'following consensus failed')
    } finally {
      const again = pendingFollow.get(ref) === 'again'
      pendingFollow.delete(ref)
      if (again) follow(ref)
    }
  }

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
    if (entries.length > 0) await services.fingerprints.seen(peer, entries.length)
    const { refs: refUpdates, sessions } = fold(entries)
    for (const [name, heads] of sessions) {
      const have = await adoption.sessionHaves([name])
      for (const head of heads) await sync(head, { from: [peer], have })
      await adoption.adoptHeads(name, heads)
    }
    for (const [ref, head] of refUpdates) {
      if ((await adoption.remoteHead(peer, ref))?.equals(head) === true) continue
      // The coherence check of what the peer published (what it adds to what this node has): a
      // head that fails it is never recorded, and its publisher's vote weighs 0 until a good one.
      const started = performance.now()
      const problem = await checkHead(peer, head, await adoption.refHaves(ref))
      log.debug?.({ peer, ref, head: head.toString(), ms: Math.round(performance.now() - started) }, 'checked a peer head')
      if (problem != null) {
        await services.fingerprints.failed(peer, { ref, head, ...problem })
        log.warn({ peer, ref, head: head.toString(), ...problem }, 'a peer published a head that fails the coherence check; its vote weighs 0 until it publishes a good one')
        continue
      }
      await services.fingerprints.proposed(peer)
      await adoption.setRemoteHead(peer, ref, head)
      if (following && ref.startsWith('shared/')) {
        log.info({ peer, ref, head: head.toString() }, 'peer published a head')
        follow(ref)
      } else {
        const outcome = await adoption.fastForward(ref, head)
        log.info({ peer, ref, head: head.toString(), outcome }, 'peer published a head')
      }
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
      // A peer's DAG holding a block over the block limit is refused for good (it cannot shrink):
      // logged once, not retried every RETRY_MS. A later entry of that peer is tried afresh.
      if ((err as { code?: string }).code === 'ERR_PAYLOAD_TOO_LARGE') {
        log.warn({ peer, err: (err as Error).message, code: 'ERR_PAYLOAD_TOO_LARGE' }, 'sync of a peer chain entry refused: a block is over the limit; not retried')
        return
      }
      retry.set(peer, queued)
      log.warn({ peer, err: (err as Error).message, code: (err as { code?: string }).code }, 'sync of a peer chain entry failed; will retry')
    }
  }
  // Each peer's entries in order, one batch at a time; different peers' at once, up to
  // MAX_PEERS_AT_ONCE (a sync reads its answer without the write lock: a slow peer, such as one
  // that has just started, does not hold up the others).
  const queues = new Map<string, Promise<void>>()
  let running = 0
  const slotFreed: Array<() => void> = []
  const slot = async (): Promise<void> => {
    if (running < MAX_PEERS_AT_ONCE) running++
    else await new Promise<void>((resolve) => { slotFreed.push(resolve) })
  }
  /** A slot freed goes to the next peer waiting for one, if any. */
  const freeSlot = (): void => {
    const next = slotFreed.shift()
    if (next != null) next()
    else running--
  }
  /** Chain entry batches queued and not yet handled. */
  let batchesQueued = 0
  const enqueue = (peer: string, entries: ChainEntry[]): Promise<void> => {
    batchesQueued++
    const next = (queues.get(peer) ?? Promise.resolve()).then(async () => {
      await slot()
      try {
        await handle(peer, entries)
      } finally {
        freeSlot()
        // The last queued batch handled: the branches that waited for it are decided now.
        if (--batchesQueued === 0) for (const ref of [...waiting.keys()]) follow(ref)
      }
    })
    queues.set(peer, next)
    const done = (): void => { if (queues.get(peer) === next) queues.delete(peer) }
    next.then(done, done)
    return next
  }
  network.onChainEntries(async (peer, entries) => { await enqueue(peer, entries) })
  const retryAll = (): void => {
    for (const peer of [...retry.keys()]) void enqueue(peer, [])
  }
  network.onPeerConnect(() => { retryAll() })
  // This node's own proposal changed (a commit, an adoption): decide again. At start, every
  // shared branch that peers have published is decided once (heads recorded while it was off).
  const unsubscribe = components.events.subscribe((e) => {
    if (e.type !== 'publish') return
    const ref = (e.detail as { ref: string | null }).ref
    if (ref != null) follow(ref)
  })
  if (following) {
    void adoption.remotes().then((remotes) => { for (const r of remotes) follow(r.ref) }, (err: unknown) => {
      log.warn({ err: (err as Error).message }, 'following consensus at start failed')
    })
  }
  const retryTimer = setInterval(retryAll, RETRY_MS)
  retryTimer.unref()

  return {
    publish: publisher.publish,
    sync,
    adoptHeads: adoption.adoptHeads,
    remotes: adoption.remotes,
    async stop () {
      stopped = true
      unsubscribe()
      for (const t of pendingFollow.values()) if (typeof t !== 'string') clearTimeout(t)
      await publisher.stop()
      clearInterval(retryTimer)
      await Promise.all(queues.values())
    }
  }
}
