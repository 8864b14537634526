/**
 * The consensus simulation: N framehub nodes in one process, each running the real core code
 * (frames, prolly trees, signed commits, `decide` with its flattening, scoring and consensus
 * commits) over a simulated network driven by a seeded PRNG and a discrete-event clock.
 *
 * A message is a node's chain entry "shared/main → head" (a real signed entry: its DAG-CBOR size is
 * what the message costs). Delivering it to a node is also the sync of the head: the receiver gets
 * the blocks under it that it lacks, and those bytes are counted. A node decides only over heads
 * it holds. Each node writes frames on its own head (some ids are written by several nodes, so
 * merges meet conflicts) and follows: when a proposal it knows changes it runs `decide` over the
 * latest proposals it knows (its own included) at most once per `decideEveryMs`, adopts the head
 * when it contains everything its own head holds, and publishes it. Every node re-announces its
 * latest entry every `reannounceMs`, so dropped messages and partitions heal without new writes.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import { signChainEntry } from '../../src/core/chain-entry.ts'
import { createCommit } from '../../src/core/commit.ts'
import type { Commit } from '../../src/core/commit.ts'
import type { ConsensusCommitBuild } from '../../src/core/consensus/index.ts'
import { CommitGraph, compareCidBytes, decide, flatten, TreeSizes } from '../../src/core/consensus/index.ts'
import { encodeFrame } from '../../src/core/frame.ts'
import { readCommit } from '../../src/core/history.ts'
import type { Signer } from '../../src/core/signing.ts'
import { diffTrees, emptyTree, entries, getEntry, mutateTree } from '../../src/core/tree/index.ts'
import type { TreeChange } from '../../src/core/tree/index.ts'
import { ed25519SeedSigner } from '../../src/storage/ed25519-signer.ts'
import { readNodeKey } from '../../src/storage/node-key.ts'
import { BlockSpace, NodeBlocks } from './blocks.ts'
import { EventQueue, prng } from './events.ts'

export const BRANCH = 'shared/main'
/** Simulated time 0, as commit and chain-entry times (ms since the epoch): fixed, so runs repeat. */
const EPOCH = Date.UTC(2026, 0, 1)

export interface Scenario {
  /** steady | partition | churn | lossy (free text: it only names the run). */
  name: string
  nodes: number
  seed: number
  /** Write commits made over the whole run (each 1–3 frames), at random times in the write window. */
  writes: number
  writeWindowMs: number
  /** Frames of the first commit, which every node starts from. */
  initialFrames: number
  /** Share of written frames whose id several nodes write (the rest are in the writer's own namespace). */
  contestedShare: number
  /** How many such shared ids there are. */
  contestedIds: number
  /** Frame ids in each node's own namespace (a node edits them again and again). */
  ownIds: number
  /** Share of writes that also remove one of the writer's own frames. */
  removeShare: number
  /** One-way delay of a message, uniform in [min, max] ms. */
  latencyMs: [number, number]
  reannounceMs: number
  /** Least time between two decisions of one node (the follower's rate limit). */
  decideEveryMs: number
  /** Probability that a message to one receiver is lost, and that it arrives twice. */
  drop: number
  duplicate: number
  /** Two groups (the first `share` of the nodes and the rest) that cannot talk from `fromMs` to `toMs`. */
  partition?: { fromMs: number, toMs: number, share: number }
  /** `departures` times a random online node leaves for a time in `offlineMs`, then comes back. */
  churn?: { departures: number, offlineMs: [number, number] }
  /** Give up this long after the last fault or write if the nodes have not converged. */
  settleLimitMs: number
  /** Converged means: on the canonical head, and no head moved for this long. */
  stableMs: number
}

export interface ScenarioResult {
  scenario: string
  nodes: number
  seed: number
  /** Set when the run was stopped because its nodes kept failing to decide (they cannot converge). */
  stuck?: string
  writes: { commits: number, frameVersions: number, removals: number }
  /** Simulated ms at which the last write, fault or rejoin happened (convergence is timed from there). */
  quietAtMs: number
  /** Simulated ms from quietAtMs to the moment every node was on the canonical head for good; null if never. */
  convergeMs: number | null
  /** Decisions a node made from quietAtMs to convergence: the most any node made, and the mean. */
  rounds: { max: number, mean: number } | null
  /** Share of nodes whose proposal is the canonical head computed from every node's proposal. */
  convergence: number | null
  canonicalHead: string | null
  /** Why the canonical head could not be computed (then versions are checked against `mostCommonHead`). */
  canonicalError?: string
  mostCommonHead?: { head: string, nodes: number }
  /** Maximal candidates behind the canonical head (1: one candidate contains all; more: a consensus commit). */
  canonicalParents: number | null
  conflicts: { forks: number, mergedFrameStates: number, rate: number }
  versions: { written: number, kept: number, inTree: number, inForks: number, superseded: number, lost: string[] }
  bytes: { total: number, blocks: number, messages: number, perNode: number }
  messages: { sent: number, delivered: number, dropped: number, duplicated: number, cutOff: number }
  decisions: {
    made: number
    /** Distinct views decided (the others reused the decision of a node with the same view). */
    computed: number
    consensusCommits: number
    adoptions: number
    keptOwnHead: number
    /** decide() failures by error code (`again`: a view that failed before, not retried). */
    failed: Record<string, number>
  }
  simulatedMs: number
}

interface Proposal { head: CID, seq: number }

interface SimNode {
  index: number
  id: string
  signer: Signer
  blocks: NodeBlocks
  head: CID
  seq: number
  entryBytes: number
  known: Map<number, Proposal>
  online: boolean
  dirty: boolean
  decideScheduled: boolean
  lastDecide: number
  sizes: TreeSizes
  decideTimes: number[]
}

type Event =
  | { kind: 'write' }
  | { kind: 'deliver', to: number, from: number, head: CID, seq: number, bytes: number }
  | { kind: 'decide', node: number }
  | { kind: 'reannounce', node: number }
  | { kind: 'leave', away: number }
  | { kind: 'rejoin', node: number }
  | { kind: 'quiet' }

/** A node's key from the run's PRNG: same seed, same peer ids, same signatures, same CIDs. */
function nodeSigner (rand: () => number): Signer {
  const seed = new Uint8Array(32)
  for (let i = 0; i < 32; i++) seed[i] = Math.floor(rand() * 256)
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed])
  const pub = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' }).subarray(-32)
  const protobuf = new Uint8Array(68)
  protobuf.set([0x08, 0x01, 0x12, 0x40])
  protobuf.set(seed, 4)
  protobuf.set(pub, 36)
  const key = readNodeKey(protobuf)
  if (key === undefined) throw new Error('could not derive a node key')
  return ed25519SeedSigner(key.peerId, seed)
}

/** Runs one scenario to its end and reports what happened. Deterministic for a given scenario. */
export async function simulate (s: Scenario): Promise<ScenarioResult> {
  const rand = prng(s.seed)
  const space = new BlockSpace()
  const heights = new Map<string, number>()
  const q = new EventQueue<Event>()
  const between = (lo: number, hi: number): number => lo + rand() * (hi - lo)

  // Frame versions written (key, value) → the commit that wrote them; commits → the ids they changed.
  const versions: Array<{ key: string, value: string, writer: string }> = []
  const changedBy = new Map<string, string[]>()
  let counter = 0
  let commits = 0
  let removals = 0

  // The first commit, which every node holds before the run (as a clone would).
  const signers = Array.from({ length: s.nodes }, () => nodeSigner(rand))
  const genesisChanges: TreeChange[] = []
  const genesisFrames: Array<{ cid: CID, bytes: Uint8Array }> = []
  const frameOf = (key: string, who: string): { cid: CID, bytes: Uint8Array } => encodeFrame({ id: key, kind: 'note', title: `${key} by ${who.slice(-6)}`, body: { text: `version ${++counter} of ${key}`, by: who } })
  for (let i = 0; i < s.initialFrames; i++) {
    const f = frameOf(`base/frame-${i}`, 'genesis')
    genesisFrames.push(f)
    genesisChanges.push({ key: `base/frame-${i}`, value: f.cid })
  }
  for (let i = 0; i < s.contestedIds; i++) {
    const f = frameOf(`shared/topic-${i}`, 'genesis')
    genesisFrames.push(f)
    genesisChanges.push({ key: `shared/topic-${i}`, value: f.cid })
  }
  const empty = emptyTree()
  space.put('tree', empty.blocks[0] as { cid: CID, bytes: Uint8Array })
  for (const f of genesisFrames) space.put('frame', f)
  const gTree = await mutateTree(space, empty.root, genesisChanges)
  for (const b of gTree.blocks) space.put('tree', b)
  const genesis = await createCommit(signers[0] as Signer, { tree: gTree.root, parents: [], message: 'genesis', time: EPOCH })
  space.put('commit', genesis)
  for (const c of genesisChanges) versions.push({ key: c.key, value: (c.value as CID).toString(), writer: genesis.cid.toString() })
  changedBy.set(genesis.cid.toString(), genesisChanges.map(c => c.key))

  const nodes: SimNode[] = signers.map((signer, index) => {
    const blocks = new NodeBlocks(space, String(index))
    blocks.held.add(empty.root.toString())
    blocks.sync(genesis.cid)
    return { index, id: signer.id, signer, blocks, head: genesis.cid, seq: 0, entryBytes: 0, known: new Map(), online: true, dirty: false, decideScheduled: false, lastDecide: -Infinity, sizes: new TreeSizes(), decideTimes: [] }
  })
  for (const n of nodes) for (const m of nodes) if (m !== n) n.known.set(m.index, { head: genesis.cid, seq: 0 })

  const stats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, cutOff: 0, blockBytes: 0, messageBytes: 0, decisions: 0, computed: 0, adoptions: 0, keptOwnHead: 0, failed: {} as Record<string, number> }
  const consensusCommits = new Set<string>()
  const decided = new Map<string, { head: CID, merge?: ConsensusCommitBuild }>()
  const failedViews = new Set<string>()

  const partitioned = (a: number, b: number): boolean => {
    const p = s.partition
    if (p === undefined || q.now < p.fromMs || q.now >= p.toMs) return false
    const cut = Math.round(s.nodes * p.share)
    return (a < cut) !== (b < cut)
  }

  const broadcast = (n: SimNode): void => {
    for (const m of nodes) {
      if (m === n) continue
      stats.sent++
      if (partitioned(n.index, m.index)) { stats.cutOff++; continue }
      if (rand() < s.drop) { stats.dropped++; continue }
      const msg: Event = { kind: 'deliver', to: m.index, from: n.index, head: n.head, seq: n.seq, bytes: n.entryBytes }
      q.schedule(q.now + between(s.latencyMs[0], s.latencyMs[1]), msg)
      if (rand() < s.duplicate) {
        stats.duplicated++
        q.schedule(q.now + between(s.latencyMs[0], s.latencyMs[1]), msg)
      }
    }
  }

  const publish = async (n: SimNode): Promise<void> => {
    n.seq++
    const entry = await signChainEntry(n.signer, { ref: { name: BRANCH, head: n.head.toString() } }, EPOCH + Math.round(q.now))
    n.entryBytes = dagCbor.encode(entry).byteLength
    if (n.online) broadcast(n)
  }

  const markDirty = (n: SimNode): void => {
    n.dirty = true
    if (n.decideScheduled) return
    n.decideScheduled = true
    q.schedule(Math.max(q.now + 1, n.lastDecide + s.decideEveryMs), { kind: 'decide', node: n.index })
  }

  // Convergence: every node's head is one head, and the decision over all of them is that head.
  const headCount = new Map<string, number>()
  for (const n of nodes) headCount.set(n.head.toString(), (headCount.get(n.head.toString()) ?? 0) + 1)
  let quietAt = 0
  let quiet = false
  let convergedAt: number | undefined
  const canonicalOf = new Map<string, boolean>()
  const checkConverged = async (): Promise<void> => {
    convergedAt = undefined
    if (!quiet) return
    const first = nodes[0] as SimNode
    if (headCount.get(first.head.toString()) !== s.nodes) return
    const key = first.head.toString()
    let ok = canonicalOf.get(key)
    if (ok === undefined) {
      try {
        const d = await decide(space, BRANCH, nodes.map(n => ({ node: n.id, head: n.head })), { cache: { heights } })
        ok = d !== undefined && d.head.equals(first.head)
      } catch {
        ok = false
      }
      canonicalOf.set(key, ok)
    }
    if (ok) convergedAt = q.now
  }
  const setHead = async (n: SimNode, head: CID): Promise<void> => {
    const before = n.head.toString()
    headCount.set(before, (headCount.get(before) ?? 1) - 1)
    n.head = head
    headCount.set(head.toString(), (headCount.get(head.toString()) ?? 0) + 1)
    await checkConverged()
  }

  const write = async (n: SimNode): Promise<void> => {
    const base = await readCommit(n.blocks, n.head)
    const changes: TreeChange[] = []
    const keys = new Set<string>()
    const count = 1 + Math.floor(rand() * 3)
    for (let i = 0; i < count; i++) {
      keys.add(rand() < s.contestedShare ? `shared/topic-${Math.floor(rand() * s.contestedIds)}` : `node-${n.index}/note-${Math.floor(rand() * s.ownIds)}`)
    }
    const fresh: Array<{ key: string, value: string }> = []
    for (const key of keys) {
      const f = frameOf(key, n.id)
      n.blocks.add('frame', [f])
      changes.push({ key, value: f.cid })
      fresh.push({ key, value: f.cid.toString() })
    }
    if (rand() < s.removeShare) {
      const key = `node-${n.index}/note-${Math.floor(rand() * s.ownIds)}`
      if (!keys.has(key) && await getEntry(n.blocks, base.tree, key) !== undefined) {
        changes.push({ key, value: null })
        keys.add(key)
        removals++
      }
    }
    const t = await mutateTree(n.blocks, base.tree, changes)
    n.blocks.add('tree', t.blocks)
    const c = await createCommit(n.signer, { tree: t.root, parents: [n.head], message: `edit ${[...keys].join(', ')}`, time: EPOCH + Math.round(q.now) })
    n.blocks.add('commit', [c])
    commits++
    for (const v of fresh) versions.push({ ...v, writer: c.cid.toString() })
    changedBy.set(c.cid.toString(), [...keys])
    await setHead(n, c.cid)
    await publish(n)
  }

  const follow = async (n: SimNode): Promise<void> => {
    n.dirty = false
    n.lastDecide = q.now
    n.decideTimes.push(q.now)
    stats.decisions++
    const proposals = [{ node: n.id, head: n.head }]
    for (const [i, p] of n.known) proposals.push({ node: (nodes[i] as SimNode).id, head: p.head })
    // The rule is a pure function of the proposals: nodes with the same view get the same decision,
    // so it is computed once per view (by the first node that has it) and reused by the others.
    const view = createHash('sha256').update(proposals.map(p => `${p.node}=${p.head.toString()}`).sort().join('\n')).digest('base64')
    let d = decided.get(view)
    if (failedViews.has(view)) { stats.failed.again = (stats.failed.again ?? 0) + 1; return }
    if (d === undefined) {
      let full: Awaited<ReturnType<typeof decide>>
      try {
        full = await decide(n.blocks, BRANCH, proposals, { cache: { heights, sizes: n.sizes } })
      } catch (err) {
        // The node cannot decide: it keeps its head (and tries again on the next change).
        const code = (err as { code?: string }).code ?? 'ERR_INTERNAL'
        stats.failed[code] = (stats.failed[code] ?? 0) + 1
        failedViews.add(view)
        return
      }
      if (full === undefined) return
      d = { head: full.head, merge: full.merge }
      decided.set(view, d)
      stats.computed++
    }
    if (d.head.equals(n.head)) return
    if (d.merge !== undefined) {
      n.blocks.add('tree', d.merge.blocks)
      n.blocks.add('commit', [d.merge])
      consensusCommits.add(d.merge.cid.toString())
    }
    // Fast-forward only: the head must hold every real commit behind this node's own head.
    const graph = new CommitGraph(n.blocks, { heights })
    const mine = await flatten(graph, n.head)
    const inside = await graph.reachable(d.head, mine)
    if (inside.size !== mine.length) { stats.keptOwnHead++; return }
    stats.adoptions++
    await setHead(n, d.head)
    await publish(n)
  }

  // The schedule: writes, faults, re-announces.
  const writeTimes = Array.from({ length: s.writes }, () => between(0, s.writeWindowMs)).sort((a, b) => a - b)
  for (const t of writeTimes) q.schedule(t, { kind: 'write' })
  quietAt = writeTimes.at(-1) ?? 0
  if (s.partition !== undefined) quietAt = Math.max(quietAt, s.partition.toMs)
  if (s.churn !== undefined) {
    for (let i = 0; i < s.churn.departures; i++) {
      const at = between(0.05, 0.7) * s.writeWindowMs
      const away = between(s.churn.offlineMs[0], s.churn.offlineMs[1])
      q.schedule(at, { kind: 'leave', away })
      quietAt = Math.max(quietAt, at + away)
    }
  }
  q.schedule(quietAt, { kind: 'quiet' })
  for (const n of nodes) q.schedule(between(0, s.reannounceMs), { kind: 'reannounce', node: n.index })

  const pick = (from: number): SimNode | undefined => {
    for (let k = 0; k < s.nodes; k++) {
      const n = nodes[(from + k) % s.nodes] as SimNode
      if (n.online) return n
    }
    return undefined
  }

  // A network whose nodes keep failing to decide cannot converge: stop once they failed 2N times.
  let stuck: string | undefined
  let ev: Event | undefined
  while ((ev = q.next()) !== undefined) {
    const failures = Object.entries(stats.failed).filter(([k]) => k !== 'again').reduce((a, [, v]) => a + v, 0)
    if (failures >= 2 * s.nodes) {
      stuck = `stopped at ${Math.round(q.now)} ms: decide() failed ${failures} times (${Object.keys(stats.failed).filter(k => k !== 'again').join(', ')})`
      break
    }
    if (quiet && q.now > quietAt + s.settleLimitMs) break
    if (quiet && convergedAt !== undefined && q.now >= convergedAt + s.stableMs) break
    switch (ev.kind) {
      case 'write': {
        const n = pick(Math.floor(rand() * s.nodes))
        if (n !== undefined) await write(n)
        break
      }
      case 'deliver': {
        const m = nodes[ev.to] as SimNode
        if (!m.online || partitioned(ev.from, ev.to)) { stats.cutOff++; break }
        stats.delivered++
        stats.messageBytes += ev.bytes
        const had = m.known.get(ev.from)
        if (had !== undefined && had.seq >= ev.seq) break
        stats.blockBytes += m.blocks.sync(ev.head).bytes
        m.known.set(ev.from, { head: ev.head, seq: ev.seq })
        if (had === undefined || !had.head.equals(ev.head)) markDirty(m)
        break
      }
      case 'decide': {
        const n = nodes[ev.node] as SimNode
        n.decideScheduled = false
        if (!n.online || !n.dirty) break
        await follow(n)
        break
      }
      case 'reannounce': {
        const n = nodes[ev.node] as SimNode
        if (n.online && n.seq > 0) broadcast(n)
        q.schedule(q.now + s.reannounceMs * between(0.9, 1.1), ev)
        break
      }
      case 'leave': {
        const n = pick(Math.floor(rand() * s.nodes))
        if (n === undefined) break
        n.online = false
        q.schedule(q.now + ev.away, { kind: 'rejoin', node: n.index })
        break
      }
      case 'rejoin': {
        const n = nodes[ev.node] as SimNode
        n.online = true
        // Back online: announce the head it has, and decide over what it knows.
        if (n.seq > 0) broadcast(n)
        markDirty(n)
        break
      }
      case 'quiet':
        quiet = true
        await checkConverged()
        break
    }
  }

  return await report(s, { space, heights, nodes, versions, changedBy, stats, consensusCommits, commits, removals, quietAt, convergedAt: stuck === undefined ? convergedAt : undefined, stuck, simulatedMs: q.now })
}

interface RunState {
  space: BlockSpace
  heights: Map<string, number>
  nodes: SimNode[]
  versions: Array<{ key: string, value: string, writer: string }>
  changedBy: Map<string, string[]>
  stats: { sent: number, delivered: number, dropped: number, duplicated: number, cutOff: number, blockBytes: number, messageBytes: number, decisions: number, computed: number, adoptions: number, keptOwnHead: number, failed: Record<string, number> }
  consensusCommits: Set<string>
  commits: number
  removals: number
  quietAt: number
  convergedAt: number | undefined
  stuck: string | undefined
  simulatedMs: number
}

async function report (s: Scenario, r: RunState): Promise<ScenarioResult> {
  const { space, nodes } = r
  // The canonical head: the rule over every node's proposal, with every block.
  // If the rule cannot decide, versions are checked against the head most nodes are on.
  let d: Awaited<ReturnType<typeof decide>>
  let canonicalError: string | undefined
  try {
    d = await decide(space, BRANCH, nodes.map(n => ({ node: n.id, head: n.head })), { cache: { heights: r.heights } })
    if (d === undefined) throw new Error('no proposals')
  } catch (err) {
    canonicalError = `${(err as { code?: string }).code ?? 'ERR_INTERNAL'}: ${(err as Error).message}`
  }
  if (d?.merge !== undefined) {
    for (const b of d.merge.blocks) space.put('tree', b)
    space.put('commit', d.merge)
  }
  const counts = new Map<string, { head: CID, count: number }>()
  for (const n of nodes) {
    const at = counts.get(n.head.toString()) ?? { head: n.head, count: 0 }
    at.count++
    counts.set(n.head.toString(), at)
  }
  const mostCommon = [...counts.values()].sort((a, b) => b.count - a.count || compareCidBytes(a.head, b.head))[0] as { head: CID, count: number }
  const head = d?.head ?? mostCommon.head
  const onHead = nodes.filter(n => n.head.equals(head)).length

  const graph = new CommitGraph(space, { heights: r.heights })
  // The history of the canonical head: every commit it reaches, with the fork records they keep.
  const history = new Map<string, Commit>()
  const stack: CID[] = [head]
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    const key = cid.toString()
    if (history.has(key)) continue
    const c = await graph.commit(cid)
    history.set(key, c)
    for (const p of c.parents) stack.push(p)
  }
  const forked = new Set<string>()
  for (const c of history.values()) for (const f of c.forks ?? []) for (const v of [f.ours, f.theirs]) if (v !== null) forked.add(`${f.id}\0${v.toString()}`)
  const inHead = new Map<string, string>()
  for await (const e of entries(space, (await graph.commit(head)).tree)) inHead.set(e.key, e.value.toString())
  const changers = new Map<string, string[]>()
  for (const [commit, keys] of r.changedBy) {
    if (!history.has(commit)) continue
    for (const k of keys) changers.set(k, [...changers.get(k) ?? [], commit])
  }
  let inTree = 0
  let inForks = 0
  let superseded = 0
  const lost: string[] = []
  for (const v of r.versions) {
    if (inHead.get(v.key) === v.value) { inTree++; continue }
    if (forked.has(`${v.key}\0${v.value}`)) { inForks++; continue }
    // Replaced or removed by a later edit that knew it: a commit of the head's history that changed
    // the id and descends from the version's writer.
    let known = false
    for (const c of changers.get(v.key) ?? []) {
      if (c === v.writer) continue
      if (await graph.contains(CID.parse(c), CID.parse(v.writer))) { known = true; break }
    }
    if (known) { superseded++; continue }
    lost.push(`${v.key}=${v.value}`)
  }

  // Conflict rate over the consensus commits of the head's history: distinct (id, version) pairs
  // kept as forks, over the distinct (id, version) pairs their parents brought since their merge base.
  const forkStates = new Set<string>()
  const mergedStates = new Set<string>()
  for (const c of history.values()) {
    if (c.consensus == null) continue
    for (const f of c.forks ?? []) forkStates.add(`${f.id}\0${f.theirs?.toString() ?? 'removed'}`)
    for (const p of c.parents) {
      let base: CID | undefined
      let baseHeight = -1
      for (const o of c.parents) {
        if (o.equals(p)) continue
        const b = await graph.mergeBase(p, o)
        if (b === undefined) continue
        const h = await graph.height(b)
        if (h > baseHeight || (h === baseHeight && base !== undefined && compareCidBytes(b, base) < 0)) { base = b; baseHeight = h }
      }
      const baseTree = base === undefined ? emptyTree().root : (await graph.commit(base)).tree
      for await (const e of diffTrees(space, baseTree, (await graph.commit(p)).tree)) mergedStates.add(`${e.key}\0${e.after?.toString() ?? 'removed'}`)
    }
  }

  const after = r.convergedAt
  const rounds = after === undefined ? null : nodes.map(n => n.decideTimes.filter(t => t > r.quietAt && t <= after).length)
  const round2 = (x: number, f = 1000): number => Math.round(x * f) / f
  const total = r.stats.blockBytes + r.stats.messageBytes
  return {
    scenario: s.name,
    nodes: s.nodes,
    seed: s.seed,
    ...(r.stuck !== undefined ? { stuck: r.stuck } : {}),
    writes: { commits: r.commits, frameVersions: r.versions.length, removals: r.removals },
    quietAtMs: Math.round(r.quietAt),
    convergeMs: after === undefined ? null : Math.round(Math.max(0, after - r.quietAt)),
    rounds: rounds === null ? null : { max: Math.max(...rounds), mean: round2(rounds.reduce((a, b) => a + b, 0) / rounds.length, 100) },
    convergence: d === undefined ? null : round2(onHead / nodes.length),
    canonicalHead: d === undefined ? null : head.toString(),
    ...(canonicalError !== undefined ? { canonicalError, mostCommonHead: { head: mostCommon.head.toString(), nodes: mostCommon.count } } : {}),
    canonicalParents: d?.maximal.length ?? null,
    conflicts: { forks: forkStates.size, mergedFrameStates: mergedStates.size, rate: mergedStates.size === 0 ? 0 : round2(forkStates.size / mergedStates.size, 10000) },
    versions: { written: r.versions.length, kept: inTree + inForks + superseded, inTree, inForks, superseded, lost: lost.slice(0, 10) },
    bytes: { total, blocks: r.stats.blockBytes, messages: r.stats.messageBytes, perNode: Math.round(total / nodes.length) },
    messages: { sent: r.stats.sent, delivered: r.stats.delivered, dropped: r.stats.dropped, duplicated: r.stats.duplicated, cutOff: r.stats.cutOff },
    decisions: { made: r.stats.decisions, computed: r.stats.computed, consensusCommits: r.consensusCommits.size, adoptions: r.stats.adoptions, keptOwnHead: r.stats.keptOwnHead, failed: r.stats.failed },
    simulatedMs: Math.round(r.simulatedMs)
  }
}
