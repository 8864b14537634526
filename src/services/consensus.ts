import { CID } from 'multiformats/cid'
import { CommitGraph, decide, TreeSizes } from '../core/consensus/index.ts'
import type { Decision, Proposal, ProposalGroup, ScoredCandidate } from '../core/consensus/index.ts'
import type { ForkRecord } from '../core/commit.ts'
import { checkMemberWeight } from '../core/consensus/weight.ts'
import { decodeCbor } from '../core/block.ts'
import { RefNotFoundError, RepoCorruptError, UsageError } from '../core/errors.ts'
import { checkBranchName } from '../core/ref-spec.ts'
import { diffTrees, getEntry } from '../core/tree/index.ts'
import { encodeCid, keys } from '../storage/state.ts'
import type * as Wire from '../core/api-types.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ServiceComponents } from './context.ts'
import type { FingerprintStore } from './fingerprints.ts'
import type { Refs } from './refs.ts'
import { consensusView } from './views.ts'

/** A node's latest proposal for a branch, as this node has recorded it. */
export interface ProposalView {
  node: string
  head: CID
  /** Its vote's weight: 0 when it is not a member. */
  weight: number
}

/** The canonical head of a shared branch and why it won. */
export interface ConsensusView {
  branch: string
  head: CID
  /** The decision record's CID (a DAG-CBOR block any node or IPFS client can fetch and recompute). */
  decision: CID
  /** The votes: voting nodes grouped by the head they propose (terms refer to these by index). */
  votes: ProposalGroup[]
  /** Highest score first, each with the terms behind its score. */
  candidates: ScoredCandidate[]
  /** Frame versions the head keeps as forks. */
  forks: ForkRecord[]
  /** Candidates no other contains, highest score first (several: the head is their consensus commit). */
  maximal: CID[]
  proposals: ProposalView[]
  /** Share of voting nodes whose proposal is the head. */
  convergence: number
  /** Forks / frame states the consensus commit merged (0 when the head is a candidate). */
  conflictRate: number
  /** Frame states the consensus commit merged (0 when the head is a candidate). */
  mergedStates: number
}

/** The network's targets over every shared branch (`GET /api/v1/consensus`; schemas/api/consensus-status.schema.json). */
export type ConsensusStatus = Wire.ConsensusStatus

/**
 * `ConsensusView` as JSON (services/views.ts `consensusView`): the `--json` contract of
 * `framehub consensus` and `GET /api/v1/consensus/{branch}` (schemas/api/consensus.schema.json).
 */
export type ConsensusDocument = Wire.Consensus

/** What the CLI, the gateway and the TypeScript client share (JSON documents). */
export interface ConsensusApi {
  /**
   * Computes the canonical head of `branch` (a `shared/*` branch) from the latest proposals this
   * node has recorded (its own published head and its peers' remote-tracking refs), stores the
   * decision record (and the consensus commit, when there is one) and shows it.
   */
  show (branch: string, options?: CallOptions): Promise<ConsensusDocument>
  /** Every shared branch with proposals, decided. */
  status (options?: CallOptions): Promise<ConsensusStatus>
  /** Voting members; empty: every node that announces itself votes (weight 1). */
  members (): Promise<string[]>
  /** Each member's weight (1 unless given when it was added). */
  memberWeights (): Promise<Record<string, number>>
  /** Adds a voting member, or changes its weight (default 1; 0 keeps it listed without a vote). */
  addMember (peer: string, options?: { weight?: number }): Promise<string[]>
  removeMember (peer: string): Promise<string[]>
  /**
   * Shadow frames of a shared branch: local changes (its working tree, staged or committed) not
   * in the canonical head yet: visible here, unconfirmed by the network.
   */
  shadow (branch: string, options?: CallOptions): Promise<ShadowDocument>
  /** Every peer's fingerprint, with the weight its vote has now. */
  fingerprints (): Promise<Wire.PeerFingerprint[]>
}

/** Frames of a shared branch the canonical head does not have yet (`GET /api/v1/shadow`; schemas/api/shadow.schema.json). */
export type ShadowDocument = Wire.Shadow

/** A frame this node has on a shared branch that the canonical head does not have (yet). */
export type ShadowFrame = ShadowDocument['frames'][number]

/** The last decision made on a branch, in memory (for metrics). */
export interface DecisionSummary {
  convergence: number
  conflictRate: number
  candidates: number
  voters: number
}

export interface ConsensusService extends ConsensusApi {
  /** The last decision of every branch decided since the node opened, by branch. */
  latest (): ReadonlyMap<string, DecisionSummary>
  /** `show` with CIDs, for the node's own use (following). */
  decide (branch: string, options?: CallOptions): Promise<ConsensusView>
  /** The decision last stored for `branch`, if any (its CID). */
  lastDecision (branch: string): Promise<CID | undefined>
  /**
   * Whether the canonical head of the last decision on `branch` holds version `cid` of frame `id`
   * (undefined when nothing was decided on it yet). Cheap: one lookup in the head's tree.
   */
  confirmed (branch: string, id: string, cid: CID, options?: CallOptions): Promise<boolean | undefined>
}

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{32,128}$/

function checkPeerId (peer: string): void {
  if (typeof peer !== 'string' || !PEER_ID.test(peer)) throw new UsageError(`"${String(peer)}" is not a peer id (base58btc, as "framehub id" prints it)`)
}

/** What the consensus service uses. */
export type ConsensusComponents = Pick<ServiceComponents, 'blocks' | 'peerId' | 'state' | 'writeBatch'>

/**
 * Consensus on shared branches (DESIGN.md, "Consensus by convergence scoring"): the proposals are
 * read from what replication recorded, the rule is core/consensus, and what it decides is stored
 * as blocks (decision record, consensus commit) so that anyone can fetch and recompute it. Adopting
 * the head is replication's job (it follows the decisions).
 */
export function createConsensusService (components: ConsensusComponents, services: { refs: Refs, fingerprints: FingerprintStore }): ConsensusService {
  const { blocks, peerId, state, writeBatch } = components
  // Kept between decisions: heights never change, and tree sizes are derived from each other.
  const heights = new Map<string, number>()
  const sizes = new TreeSizes()
  const latest = new Map<string, DecisionSummary>()

  /** Members and their weights (a member's state value is its weight as text; empty: 1). */
  const memberWeights = async (): Promise<Map<string, number>> => {
    const out = new Map<string, number>()
    for await (const [peer, value] of state.scan(keys.memberPrefix)) {
      const weight = value.byteLength === 0 ? 1 : Number(new TextDecoder().decode(value))
      out.set(peer, Number.isFinite(weight) && weight >= 0 ? weight : 1)
    }
    return out
  }
  const members = async (): Promise<string[]> => [...(await memberWeights()).keys()]
  /** A vote's weight: the member's weight (1 when no member is listed, 0 for a non-member) times 0 while its head fails the coherence check. */
  const voteWeight = async (voters: Map<string, number>, node: string): Promise<number> => {
    const listed = voters.size === 0 ? 1 : voters.get(node) ?? 0
    if (listed === 0) return 0
    return listed * (node === peerId ? 1 : await services.fingerprints.weight(node))
  }

  const proposals = async (branch: string): Promise<ProposalView[]> => {
    const voters = await memberWeights()
    const weight = async (node: string): Promise<number> => await voteWeight(voters, node)
    const out: ProposalView[] = []
    const own = await state.cid(keys.published(branch)) ?? await services.refs.branchHead(branch)
    if (own != null) out.push({ node: peerId, head: own, weight: await weight(peerId) })
    for await (const [key, value] of state.scan(keys.remotePrefix)) {
      const space = key.indexOf(' ')
      if (key.slice(space + 1) !== branch) continue
      const node = key.slice(0, space)
      if (node === peerId) continue
      out.push({ node, head: CID.decode(value), weight: await weight(node) })
    }
    return out
  }

  /** The head of the last decision stored per branch (read from its record once, then kept). */
  const canonical = new Map<string, CID>()
  const canonicalHead = async (branch: string, options?: CallOptions): Promise<CID | undefined> => {
    const known = canonical.get(branch)
    if (known !== undefined) return known
    const record = await state.cid(keys.decision(branch))
    if (record === undefined) return undefined
    const value = decodeCbor(record, await blocks.get(record, options)) as { head?: unknown }
    const head = CID.asCID(value.head)
    if (head == null) throw new RepoCorruptError(`the decision record ${record} of ${branch} names no head`)
    canonical.set(branch, head)
    return head
  }

  const store = async (d: Decision): Promise<void> => {
    const batch = writeBatch()
    if (d.merge != null) {
      for (const b of d.merge.blocks) batch.putBlock(b.cid, b.bytes)
      batch.putBlock(d.merge.cid, d.merge.bytes)
    }
    batch.putBlock(d.record.cid, d.record.bytes)
    batch.putState(keys.decision(d.branch), encodeCid(d.record.cid))
    await batch.write()
    canonical.set(d.branch, d.head)
  }

  const decideBranch = async (branch: string, options?: CallOptions): Promise<ConsensusView> => {
    checkBranchName(branch)
    if (!branch.startsWith('shared/')) throw new UsageError(`consensus is kept on shared/* branches, not "${branch}"`)
    const proposed = await proposals(branch)
    const d = await decide(blocks, branch, proposed.map((p): Proposal => ({ node: p.node, head: p.head, weight: p.weight })), { signal: options?.signal, cache: { heights, sizes } })
    if (d === undefined) throw new RefNotFoundError(`no voting node proposes a head for ${branch} yet`, { ref: branch })
    await store(d)
    const voting = proposed.filter(p => p.weight > 0)
    const onHead = voting.filter(p => p.head.equals(d.head)).length
    const conflictRate = d.merge == null || d.merge.states === 0 ? 0 : d.forks.length / d.merge.states
    latest.set(branch, { convergence: voting.length === 0 ? 0 : onHead / voting.length, conflictRate, candidates: d.candidates.length, voters: voting.length })
    return {
      branch,
      head: d.head,
      decision: d.record.cid,
      votes: d.proposals,
      candidates: d.candidates,
      forks: d.forks,
      maximal: d.maximal,
      proposals: proposed,
      convergence: voting.length === 0 ? 0 : onHead / voting.length,
      conflictRate,
      mergedStates: d.merge?.states ?? 0
    }
  }

  return {
    latest: () => latest,
    decide: decideBranch,
    show: async (branch, options) => consensusView(await decideBranch(branch, options)),
    lastDecision: async (branch) => await state.cid(keys.decision(branch)),
    async confirmed (branch, id, cid, options) {
      const head = await canonicalHead(branch, options)
      if (head === undefined) return undefined
      const tree = (await new CommitGraph(blocks, { signal: options?.signal, heights }).commit(head)).tree
      return (await getEntry(blocks, tree, id, options))?.equals(cid) === true
    },
    async status (options) {
      const names = new Set<string>()
      const nodes = new Set<string>()
      for await (const [key] of state.scan(keys.remotePrefix)) {
        const space = key.indexOf(' ')
        names.add(key.slice(space + 1))
        nodes.add(key.slice(0, space))
      }
      for (const b of await services.refs.listBranches()) if (b.name.startsWith('shared/')) names.add(b.name)
      const out: ConsensusStatus = { convergence: 1, conflictRate: 0, peers: 0, branches: [] }
      let on = 0
      let voting = 0
      let forks = 0
      let states = 0
      for (const branch of [...names].sort()) {
        let v: ConsensusView
        try {
          v = await decideBranch(branch, options)
        } catch (err) {
          if ((err as { code?: string }).code === 'ERR_REF_NOT_FOUND') continue
          throw err
        }
        for (const p of v.proposals) nodes.add(p.node)
        const voters = v.proposals.filter(p => p.weight > 0)
        voting += voters.length
        on += voters.filter(p => p.head.equals(v.head)).length
        forks += v.forks.length
        states += v.mergedStates
        const local = await services.refs.branchHead(branch)
        out.branches.push({ branch, head: v.head.toString(), decision: v.decision.toString(), convergence: v.convergence, conflictRate: v.conflictRate, proposals: v.proposals.length, local: local?.toString() ?? null })
      }
      nodes.add(peerId)
      out.peers = nodes.size
      out.convergence = voting === 0 ? 1 : on / voting
      out.conflictRate = states === 0 ? 0 : forks / states
      return out
    },
    members,
    async shadow (branch, options) {
      const local = await services.refs.workingTree(branch)
      const localHead = await services.refs.branchHead(branch)
      let head: CID | undefined
      try {
        head = (await decideBranch(branch, options)).head
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_REF_NOT_FOUND') throw err
      }
      // Local changes are what the working tree changed since the history it shares with the
      // head; the ones the head holds otherwise are unconfirmed. What the head has and this node
      // has not adopted yet is not a local change.
      const graph = new CommitGraph(blocks, { signal: options?.signal, heights })
      const canonicalTree = head == null ? EMPTY_TREE : (await graph.commit(head)).tree
      const base = head == null || localHead == null ? undefined : await graph.mergeBase(localHead, head)
      const baseTree = base == null ? EMPTY_TREE : (await graph.commit(base)).tree
      const frames: ShadowFrame[] = []
      for await (const d of diffTrees(blocks, baseTree, local, options)) {
        const canonical = await getEntry(blocks, canonicalTree, d.key, options) ?? null
        if (canonical === null ? d.after === null : d.after?.equals(canonical) === true) continue
        frames.push({ id: d.key, cid: d.after?.toString() ?? null, canonical: canonical?.toString() ?? null, confirmed: false })
      }
      return { branch, head: head?.toString() ?? null, frames }
    },
    async fingerprints () {
      const voters = await memberWeights()
      return await Promise.all((await services.fingerprints.all()).map(async f => {
        const member = voters.size === 0 || voters.has(f.peer)
        return { ...f, member, weight: await voteWeight(voters, f.peer) }
      }))
    },
    memberWeights: async () => Object.fromEntries(await memberWeights()),
    async addMember (peer, options = {}) {
      checkPeerId(peer)
      const weight = checkMemberWeight(options.weight ?? 1)
      await writeBatch().putState(keys.member(peer), weight === 1 ? new Uint8Array(0) : new TextEncoder().encode(String(weight))).write()
      return await members()
    },
    async removeMember (peer) {
      checkPeerId(peer)
      await writeBatch().delState(keys.member(peer)).write()
      return await members()
    }
  }
}
