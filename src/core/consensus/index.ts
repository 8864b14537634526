/**
 * Consensus by convergence scoring, the pure part: the rule that turns the proposals of a shared
 * branch into one canonical head, the consensus commit that merges several, and the decision
 * record that shows why (DESIGN.md, "Consensus by convergence scoring"). Storage, chains and
 * following live in services/consensus.ts.
 */
export { decide, DECISION_RULE } from './decide.ts'
export type { DecideCache, DecideOptions, Decision, DecisionRecord, Proposal, ProposalGroup, ScoredCandidate, Term } from './decide.ts'
export { buildConsensusCommit, checkConsensusCommit, CONSENSUS_RULE } from './merge-commit.ts'
export type { ConsensusCommitBuild } from './merge-commit.ts'
export { flatten } from './flatten.ts'
export { CommitGraph, compareCidBytes } from './graph.ts'
export { TreeSimilarity, TreeSizes } from './similarity.ts'
