import type { CID } from 'multiformats/cid'
import { encodeBlock } from '../codec.ts'
import type { Block } from '../codec.ts'
import type { ForkRecord } from '../commit.ts'
import type { BlockReader } from '../tree/index.ts'
import { flatten } from './flatten.ts'
import { CommitGraph, compareCidBytes } from './graph.ts'
import { buildConsensusCommit, CONSENSUS_RULE } from './merge-commit.ts'
import type { ConsensusCommitBuild } from './merge-commit.ts'
import { TreeSimilarity, TreeSizes } from './similarity.ts'

/** A node's latest proposal for a branch: the head it last published there. */
export interface Proposal {
  /** Peer id of the proposing node. */
  node: string
  head: CID
  /** Its vote's weight (from its fingerprint); 1 by default, 0 leaves it out. */
  weight?: number
}

/** One value behind a term: a real commit of the voter's proposal and how it relates to the candidate. */
export interface TermPart {
  commit: CID
  /** The voter's commit is the candidate or one of its ancestors (value 1). */
  contained: boolean
  /** 1 when contained, else the similarity of the two trees. */
  value: number
}

/** What one voting node gives a candidate: weight · conv, conv the mean of `from`. */
export interface Term {
  node: string
  weight: number
  conv: number
  from: TermPart[]
}

export interface ScoredCandidate {
  commit: CID
  /** Author of the candidate commit. */
  node: string
  height: number
  score: number
  terms: Term[]
}

/** The decision record: what the rule saw and what it chose, as stored (a DAG-CBOR block). */
export interface DecisionRecord {
  rule: number
  branch: string
  head: CID
  candidates: ScoredCandidate[]
}

export interface Decision {
  branch: string
  /** The canonical head: the one maximal candidate, or the consensus commit of several. */
  head: CID
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
 * commit so found is a candidate; score(c) = Σ_n w_n · mean over f in F_n of (1 if f is c or an
 * ancestor of c, else the similarity of their trees); order by score, height, CID bytes; the head
 * is the one maximal candidate, or else the consensus commit of the maximal ones in that order.
 * Returns undefined when no node with a positive weight proposes anything.
 */
export async function decide (reader: BlockReader, branch: string, proposals: Proposal[], options: DecideOptions = {}): Promise<Decision | undefined> {
  const { signal } = options
  const graph = new CommitGraph(reader, { signal, heights: options.cache?.heights })
  const voters = await onePerNode(graph, proposals)
  if (voters.size === 0) return undefined

  const flat = new Map<string, CID[]>()
  const candidates = new Map<string, CID>()
  for (const [node, { head }] of voters) {
    const real = await flatten(graph, head)
    flat.set(node, real)
    for (const c of real) candidates.set(c.toString(), c)
  }
  const cands = [...candidates.values()].sort(compareCidBytes)

  // Containment: which candidates each candidate contains (itself included).
  const contains = new Map<string, Set<string>>()
  for (const c of cands) contains.set(c.toString(), await graph.reachable(c, cands))

  const sizes = options.cache?.sizes ?? new TreeSizes()
  const trees = new Map<string, CID>()
  for (const c of cands) trees.set(c.toString(), (await graph.commit(c)).tree)
  const similarity = await TreeSimilarity.create(reader, trees.get((cands[0] as CID).toString()) as CID, sizes, { signal })

  const scored: ScoredCandidate[] = []
  for (const c of cands) {
    const key = c.toString()
    const inside = contains.get(key) as Set<string>
    const terms: Term[] = []
    let score = 0
    for (const [node, { weight }] of voters) {
      const from: TermPart[] = []
      let sum = 0
      for (const f of flat.get(node) as CID[]) {
        const contained = inside.has(f.toString())
        const value = contained ? 1 : await similarity.of(trees.get(f.toString()) as CID, trees.get(key) as CID)
        from.push({ commit: f, contained, value })
        sum += value
      }
      const conv = sum / from.length
      terms.push({ node, weight, conv, from })
      score += weight * conv
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
  const value: DecisionRecord = { rule: CONSENSUS_RULE, branch, head, candidates: scored }
  const record = { ...encodeBlock(value, 'decision record'), value }
  return { branch, head, candidates: scored, maximal, merge, forks, record }
}
