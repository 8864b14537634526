import type { CID } from 'multiformats/cid'
import { encodeBlock } from '../block.ts'
import type { Block } from '../block.ts'
import type { ForkRecord } from '../commit.ts'
import type { BlockReader } from '../tree/index.ts'
import { flatten } from './flatten.ts'
import { CommitGraph, compareCidBytes } from './graph.ts'
import { buildConsensusCommit } from './merge-commit.ts'
import type { ConsensusCommitBuild } from './merge-commit.ts'
import { TreeSimilarity, TreeSizes } from './similarity.ts'
import { votesOf } from './vote.ts'
import type { TreeDelta } from './similarity.ts'

/** A node's latest proposal for a branch: the head it last published there. */
export interface Proposal {
  /** Peer id of the proposing node. */
  node: string
  head: CID
  /** Its vote's weight (from its fingerprint); 1 by default, 0 leaves it out. */
  weight?: number
}

/**
 * The voters that propose one head and vote for the same real commits, and their weight together.
 * A voter votes for the newest commit it wrote that its proposal contains, or when it wrote none
 * there, for its proposal's real commits (vote.ts).
 */
export interface ProposalGroup {
  head: CID
  /** The voting nodes, in peer-id order. */
  nodes: string[]
  /** Sum of their weights. */
  weight: number
  /** The real commits they vote for, by CID bytes. */
  commits: CID[]
}

/**
 * Version of the rule in decision records. 1: a voter voted for its proposal's real commits, so
 * adopting a consensus commit changed its vote, and the merge order could change once more after
 * the nodes adopted it (a second consensus commit, and a second round of adoptions after a
 * partition healed). 2: a voter votes for the newest commit it wrote that its proposal contains
 * (vote.ts), which adopting a head does not change.
 */
export const DECISION_RULE = 2

/**
 * What the voters of one proposal give a candidate: weight · conv, conv the mean over the
 * proposal's real commits of 1 (contained in the candidate) or the similarity of the trees.
 */
export interface Term {
  /** Index of the proposal in `Decision.proposals`. */
  proposal: number
  conv: number
  /** Share of the proposal's real commits that the candidate contains (1: it contains the proposal). */
  contained: number
}

export interface ScoredCandidate {
  commit: CID
  /** Author of the candidate commit. */
  node: string
  height: number
  score: number
  /** One per proposal, in the order of `proposals`. */
  terms: Term[]
}

/**
 * The decision record: what the rule saw and what it chose, as stored (a DAG-CBOR block). Its
 * size grows with candidates × distinct proposals (not with voters³): voters of the same head are
 * one proposal. When it would still be over the block limit, the terms are left out of the block
 * (`terms: []`): anyone can recompute them from the proposals.
 */
export interface DecisionRecord {
  rule: number
  branch: string
  head: CID
  proposals: Array<{ head: CID, nodes: string[], weight: number }>
  candidates: Array<Omit<ScoredCandidate, 'terms'> & { terms: Array<Omit<Term, 'proposal'>> }>
}

export interface Decision {
  branch: string
  /** The canonical head: the one maximal candidate, or the consensus commit of several. */
  head: CID
  /** The proposals, grouped by head, in CID-byte order of their heads. */
  proposals: ProposalGroup[]
  /** Candidates, highest score first. */
  candidates: ScoredCandidate[]
  /** The candidates no other candidate contains, highest score first. */
  maximal: CID[]
  /** The consensus commit to store when there are several maximal candidates. */
  merge?: ConsensusCommitBuild
  /** Frame versions the head keeps as forks (the consensus commit's). */
  forks: ForkRecord[]
  /** The decision record's block. */
  record: Block & { value: DecisionRecord }
}

/** What a caller keeps between decisions so that each one reads only what changed. */
export interface DecideCache {
  heights?: Map<string, number>
  sizes?: TreeSizes
}

export interface DecideOptions {
  signal?: AbortSignal
  cache?: DecideCache
}

/** The record's block; without the terms when they would take it over the block limit. */
function decisionRecord (branch: string, head: CID, proposals: ProposalGroup[], scored: ScoredCandidate[]): Block & { value: DecisionRecord } {
  const make = (withTerms: boolean): DecisionRecord => ({
    rule: DECISION_RULE,
    branch,
    head,
    proposals: proposals.map(g => ({ head: g.head, nodes: g.nodes, weight: g.weight })),
    candidates: scored.map(c => ({ commit: c.commit, node: c.node, height: c.height, score: c.score, terms: withTerms ? c.terms.map(t => ({ conv: t.conv, contained: t.contained })) : [] }))
  })
  try {
    const value = make(true)
    return { ...encodeBlock(value, 'decision record'), value }
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_PAYLOAD_TOO_LARGE') throw err
    const value = make(false)
    return { ...encodeBlock(value, 'decision record'), value }
  }
}

/**
 * The tree every candidate is diffed from: that of the highest common ancestor of all candidates
 * (their own changes since they parted are what the diffs walk), or the first candidate's when
 * they share no history.
 */
async function referenceTree (graph: CommitGraph, cands: CID[]): Promise<CID> {
  let base: CID | undefined = cands[0] as CID
  for (const c of cands.slice(1)) {
    base = await graph.mergeBase(base, c)
    if (base === undefined) return (await graph.commit(cands[0] as CID)).tree
  }
  return (await graph.commit(base)).tree
}

/** Lists of CIDs (each in CID-byte order): element by element, then the shorter first. */
function compareCommits (a: CID[], b: CID[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareCidBytes(a[i] as CID, b[i] as CID)
    if (c !== 0) return c
  }
  return a.length - b.length
}

/** Candidate order: score, then greater height, then smaller CID bytes. */
function byRank (a: ScoredCandidate, b: ScoredCandidate): number {
  if (a.score !== b.score) return b.score - a.score
  if (a.height !== b.height) return b.height - a.height
  return compareCidBytes(a.commit, b.commit)
}

/** One proposal per node: of several, the highest head (then smaller CID), whatever their order. */
async function onePerNode (graph: CommitGraph, proposals: Proposal[]): Promise<Map<string, { head: CID, weight: number }>> {
  const out = new Map<string, { head: CID, weight: number, height: number }>()
  for (const p of proposals) {
    const weight = p.weight ?? 1
    if (!(weight > 0) || !Number.isFinite(weight)) continue
    const height = await graph.height(p.head)
    const at = out.get(p.node)
    if (at === undefined || height > at.height || (height === at.height && compareCidBytes(p.head, at.head) < 0)) out.set(p.node, { head: p.head, weight, height })
    else if (at.head.equals(p.head)) at.weight = Math.min(at.weight, weight)
  }
  return new Map([...out].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
}

/**
 * The consensus rule (DESIGN.md, "Consensus by convergence scoring"): a pure function of the
 * proposals (and the blocks they reach). Flatten every proposal to real commits; every real
 * commit so found is a candidate; F_n, what node n votes for, is the newest commit n wrote that
 * its proposal contains, or its proposal flattened when it wrote none there (vote.ts); score(c) = Σ_n w_n · mean over f in F_n of (1 if f is c
 * or an ancestor of c, else the similarity of their trees); order by score, height, CID bytes; the head
 * is the one maximal candidate, or else the consensus commit of the maximal ones in that order.
 * Returns undefined when no node with a positive weight proposes anything.
 */
export async function decide (reader: BlockReader, branch: string, proposals: Proposal[], options: DecideOptions = {}): Promise<Decision | undefined> {
  const { signal } = options
  const graph = new CommitGraph(reader, { signal, heights: options.cache?.heights })
  const voters = await onePerNode(graph, proposals)
  if (voters.size === 0) return undefined

  // Every proposal flattened once; every real commit so found is a candidate.
  const flat = new Map<string, CID[]>()
  for (const { head } of voters.values()) {
    const key = head.toString()
    if (!flat.has(key)) flat.set(key, await flatten(graph, head))
  }
  const candidates = new Map<string, CID>()
  for (const commits of flat.values()) for (const c of commits) candidates.set(c.toString(), c)
  const cands = [...candidates.values()].sort(compareCidBytes)

  // What each voter votes for (vote.ts). Voters of the same head with the same votes are one
  // group (their weights add up), counted once each.
  const groups = new Map<string, ProposalGroup>()
  const groupOf = new Map<string, ProposalGroup>()
  for (const [node, { head, weight }] of voters) {
    const commits = await votesOf(graph, node, head, flat.get(head.toString()) as CID[])
    const key = `${head.toString()} ${commits.join(' ')}`
    let g = groups.get(key)
    if (g === undefined) {
      g = { head, nodes: [], weight: 0, commits }
      groups.set(key, g)
    }
    g.nodes.push(node)
    g.weight += weight
    groupOf.set(node, g)
  }
  const grouped = [...groups.values()].sort((a, b) => compareCidBytes(a.head, b.head) || compareCommits(a.commits, b.commits))
  // The score sums over what the voters vote for, not over proposals: each distinct vote once, in
  // CID order, with the weight of all its voters (added in peer-id order). Floating-point sums
  // depend on their order, and proposals change when nodes adopt a head while votes do not: a sum
  // in proposal order could turn a near tie the other way after an adoption, and the nodes would
  // then go back and forth between two merge orders.
  const indexOf = new Map(grouped.map((g, i) => [g, i]))
  const votes = new Map<string, { commits: CID[], weight: number, groups: number[] }>()
  for (const [node, { weight }] of voters) {
    const group = groupOf.get(node) as ProposalGroup
    const key = group.commits.join(' ')
    let v = votes.get(key)
    if (v === undefined) {
      v = { commits: group.commits, weight: 0, groups: [] }
      votes.set(key, v)
    }
    v.weight += weight
    const g = indexOf.get(group) as number
    if (!v.groups.includes(g)) v.groups.push(g)
  }
  const byVote = [...votes.values()].sort((a, b) => compareCommits(a.commits, b.commits))

  // Containment: which candidates and votes each candidate contains (itself included).
  const voted = new Map<string, CID>()
  for (const g of grouped) for (const f of g.commits) if (!candidates.has(f.toString())) voted.set(f.toString(), f)
  const contains = new Map<string, Set<string>>()
  for (const c of cands) contains.set(c.toString(), await graph.reachable(c, [...cands, ...voted.values()]))

  const sizes = options.cache?.sizes ?? new TreeSizes()
  const trees = new Map<string, CID>()
  for (const c of [...cands, ...voted.values()]) trees.set(c.toString(), (await graph.commit(c)).tree)
  // Every tree is compared through its diff from one reference: the tree of a common ancestor of
  // all candidates, so that each diff is only that candidate's own changes (any reference gives the
  // same values; a far one costs more).
  const similarity = await TreeSimilarity.create(reader, await referenceTree(graph, cands), sizes, { signal })

  // Each candidate's tree delta and each group's commits, looked up once: the loop below runs
  // candidates × proposals' commits times.
  const deltas = new Map<string, TreeDelta>()
  for (const [key, tree] of trees) deltas.set(key, await similarity.delta(tree))
  const members = byVote.map(v => v.commits.map(f => ({ key: f.toString(), delta: deltas.get(f.toString()) as TreeDelta })))
  const scored: ScoredCandidate[] = []
  for (const c of cands) {
    const key = c.toString()
    const inside = contains.get(key) as Set<string>
    const own = deltas.get(key) as TreeDelta
    const terms = new Array<Term>(grouped.length)
    let score = 0
    for (let i = 0; i < byVote.length; i++) {
      const v = byVote[i] as { commits: CID[], weight: number, groups: number[] }
      let sum = 0
      let contained = 0
      for (const f of members[i] as Array<{ key: string, delta: TreeDelta }>) {
        if (inside.has(f.key)) { sum += 1; contained++ } else sum += similarity.between(f.delta, own)
      }
      const conv = sum / v.commits.length
      for (const g of v.groups) terms[g] = { proposal: g, conv, contained: contained / v.commits.length }
      score += v.weight * conv
    }
    const commit = await graph.commit(c)
    scored.push({ commit: c, node: commit.author, height: await graph.height(c), score, terms })
  }
  scored.sort(byRank)

  // Maximal: contained in no other candidate.
  const maximal = scored.filter(s => {
    const key = s.commit.toString()
    return !scored.some(o => o.commit.toString() !== key && (contains.get(o.commit.toString()) as Set<string>).has(key))
  }).map(s => s.commit)
  let head: CID
  let merge: ConsensusCommitBuild | undefined
  let forks: ForkRecord[]
  if (maximal.length === 1) {
    head = maximal[0] as CID
    forks = []
  } else {
    merge = await buildConsensusCommit(graph, maximal, { signal })
    head = merge.cid
    forks = merge.forks
  }
  return { branch, head, proposals: grouped, candidates: scored, maximal, merge, forks, record: decisionRecord(branch, head, grouped, scored) }
}
