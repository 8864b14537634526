import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { decodeCommit } from '../../../src/core/commit.ts'
import { checkConsensusCommit, CommitGraph, decide, TreeSimilarity, TreeSizes } from '../../../src/core/consensus/index.ts'
import type { Decision, Proposal } from '../../../src/core/consensus/index.ts'
import { validateDecisionJson } from '../../../src/core/schemas.ts'
import { cidOf, RAW } from '../../../src/core/cid.ts'
import { toJsonView } from '../../../src/core/json-view.ts'
import { buildTree } from '../../../src/core/tree/index.ts'
import { World } from './world.ts'

const proposalsOf = (w: World): Proposal[] => [...w.heads].filter((e): e is [string, CID] => e[1] !== undefined).map(([node, head]) => ({ node, head }))

/** Stores what a decision made, as the node does. */
function store (w: World, d: Decision): void {
  if (d.merge !== undefined) w.add([d.merge, ...d.merge.blocks])
  w.add([d.record])
}

/**
 * Every version in every maximal candidate survives: it is the head's, or a fork keeps it, or the
 * head holds a version written by a descendant of its writer (a later edit that knew it).
 */
async function assertNothingLost (w: World, d: Decision): Promise<void> {
  const graph = new CommitGraph(w)
  const head = await w.map((await graph.commit(d.head)).tree)
  const forked = new Set(d.forks.flatMap(f => [f.ours, f.theirs]).filter((c): c is CID => c !== null).map(String))
  for (const m of d.maximal) {
    for (const [key, v] of await w.map((await graph.commit(m)).tree)) {
      const now = head.get(key)
      if (now === v || forked.has(v)) continue
      // Replaced or removed by a commit that knew v (descends from its writer) and that the head
      // contains: the writer of any later version of the id (the one in the head, or one that lost
      // to it and is kept as a fork), or a commit that removed the id.
      const by = [...(w.versions.get(key) ?? []).filter(u => u !== v).map(u => w.writer.get(u) as string), ...w.removers.get(key) ?? []]
      let known = false
      // Or kept as a fork by a merge the head contains.
      for (const m of w.forkedIn.get(v) ?? []) known ||= await graph.contains(d.head, CID.parse(m))
      for (const r of by) known ||= await graph.contains(d.head, CID.parse(r)) && await graph.contains(CID.parse(r), CID.parse(w.writer.get(v) as string))
      assert.ok(known, `${key}=${v} of ${m} was ${now === undefined ? 'dropped' : `replaced by ${now}`} by no edit that knew it`)
    }
  }
}

describe('consensus rule (core/consensus)', () => {
  it('takes the candidate that contains all others as the head', async () => {
    const w = new World(['a', 'b', 'c'])
    const root = await w.write('a', ['x', 'y'])
    w.adopt('b', root)
    w.adopt('c', root)
    const tip = await w.write('b', ['x'])
    const d = await decide(w, 'shared/main', proposalsOf(w))
    assert.ok(d !== undefined)
    assert.equal(d.head.toString(), tip.toString())
    assert.equal(d.merge, undefined)
    assert.deepEqual(d.maximal.map(String), [tip.toString()])
    // b's tip contains every proposal: 3 nodes, each conv 1.
    assert.equal(d.candidates[0]?.score, 3)
    assert.equal(d.candidates[0]?.commit.toString(), tip.toString())
    assert.ok(validateDecisionJson(toJsonView(d.record.value)), JSON.stringify(validateDecisionJson.errors))
  })

  it('merges diverged heads into one consensus commit, keeps the loser of a conflict as a fork, and checks it by recomputing', async () => {
    const w = new World(['a', 'b', 'c'])
    const root = await w.write('a', ['x', 'y', 'z'])
    w.adopt('b', root)
    w.adopt('c', root)
    const a1 = await w.write('a', ['x', 'p'])
    w.adopt('c', a1)
    const b1 = await w.write('b', ['x', 'q'])
    const d = await decide(w, 'shared/main', proposalsOf(w))
    assert.ok(d?.merge !== undefined)
    // a1 has two votes (a and c), b1 one: a1 first, and a1's version of x wins.
    assert.deepEqual(d.maximal.map(String), [a1.toString(), b1.toString()])
    assert.deepEqual(d.merge.commit.parents.map(String), [a1.toString(), b1.toString()])
    assert.equal(d.forks.length, 1)
    assert.equal(d.forks[0]?.id, 'x')
    store(w, d)
    const merged = await w.map(d.merge.commit.tree)
    const aMap = await w.map(await w.treeOf(a1))
    const bMap = await w.map(await w.treeOf(b1))
    assert.equal(merged.get('x'), aMap.get('x'))
    assert.equal(d.forks[0]?.theirs?.toString(), bMap.get('x'))
    assert.equal(merged.get('p'), aMap.get('p'))
    assert.equal(merged.get('q'), bMap.get('q'))
    // The block has no author, time or signature; decoding gives the view history walks use.
    const block = w.blocks.get(d.head.toString()) as Uint8Array
    const view = decodeCommit(d.head, block)
    assert.equal(view.consensus, 1)
    assert.equal(view.author, '')
    await checkConsensusCommit(new CommitGraph(w), d.head, view)
    await assertNothingLost(w, d)
  })

  it('refuses a consensus commit that is not the merge of its parents', async () => {
    const w = new World(['a', 'b'])
    const root = await w.write('a', ['x'])
    w.adopt('b', root)
    await w.write('a', ['x'])
    await w.write('b', ['x'])
    const d = await decide(w, 'shared/main', proposalsOf(w))
    assert.ok(d?.merge !== undefined)
    store(w, d)
    const forged = { ...d.merge.commit, parents: [...d.merge.commit.parents].reverse() }
    await assert.rejects(checkConsensusCommit(new CommitGraph(w), d.head, forged), { code: 'ERR_COMMIT_INVALID' })
  })

  it('does not ping-pong: nodes that adopted the consensus commit decide it again, and work on top wins next', async () => {
    const w = new World(['a', 'b', 'c'])
    const root = await w.write('a', ['x'])
    w.adopt('b', root)
    w.adopt('c', root)
    await w.write('a', ['x'])
    await w.write('b', ['y'])
    await w.write('c', ['z'])
    const d1 = await decide(w, 'shared/main', proposalsOf(w))
    assert.ok(d1?.merge !== undefined)
    assert.equal(d1.merge.commit.parents.length, 3)
    store(w, d1)
    // Adopted by one node only, then by all: the same head each time.
    w.adopt('a', d1.head)
    const d2 = await decide(w, 'shared/main', proposalsOf(w))
    assert.equal(d2?.head.toString(), d1.head.toString())
    for (const n of ['b', 'c']) w.adopt(n, d1.head)
    const d3 = await decide(w, 'shared/main', proposalsOf(w))
    assert.equal(d3?.head.toString(), d1.head.toString())
    const next = await w.write('b', ['w'])
    const d4 = await decide(w, 'shared/main', proposalsOf(w))
    assert.equal(d4?.head.toString(), next.toString())
  })

  it('heals a partition in one step: adopting the consensus commit of both sides changes no vote, so it stays the head', async () => {
    const nodes = ['n0', 'n1', 'n2', 'n3', 'n4']
    const w = new World(nodes)
    const root = await w.write('n0', ['x'])
    for (const n of nodes) w.adopt(n, root)
    // Three nodes on one side write and agree on their consensus commit; two on the other write alone.
    for (const n of ['n0', 'n1', 'n2']) await w.write(n, ['x', `own-${n}`])
    const side = await decide(w, 'shared/main', proposalsOf(w).filter(p => ['n0', 'n1', 'n2'].includes(p.node)))
    assert.ok(side?.merge !== undefined)
    store(w, side)
    for (const n of ['n0', 'n1', 'n2']) w.adopt(n, side.head)
    for (const n of ['n3', 'n4']) await w.write(n, ['x', `own-${n}`])
    // Heal: every node votes for the commit it wrote, whoever's consensus commit it proposes.
    const healed = await decide(w, 'shared/main', proposalsOf(w))
    assert.ok(healed?.merge !== undefined)
    assert.equal(healed.maximal.length, 5)
    assert.deepEqual(healed.proposals.map(g => g.commits.length), [1, 1, 1, 1, 1])
    store(w, healed)
    await assertNothingLost(w, healed)
    // One node adopts, then the rest: the head does not move (no second merge order to settle on).
    w.adopt('n3', healed.head)
    assert.equal((await decide(w, 'shared/main', proposalsOf(w)))?.head.toString(), healed.head.toString())
    for (const n of nodes) w.adopt(n, healed.head)
    const after = await decide(w, 'shared/main', proposalsOf(w))
    assert.equal(after?.head.toString(), healed.head.toString())
    assert.equal(after?.record.value.rule, 2)
  })

  it('a node that fast-forwarded to a peer\'s commit votes for its own newest commit, before and after adopting the consensus commit', async () => {
    const nodes = ['n0', 'n1', 'n2', 'n3']
    const w = new World(nodes)
    const root = await w.write('n0', ['x', 'y'])
    for (const n of nodes) w.adopt(n, root)
    // One side writes one after the other, each on top of the last (as following does).
    const a0 = await w.write('n0', ['x', 'own-n0'])
    w.adopt('n1', a0)
    const a1 = await w.write('n1', ['y', 'own-n1'])
    w.adopt('n0', a1)
    w.adopt('n2', a1)
    // The other side writes alone.
    await w.write('n3', ['x', 'y', 'own-n3'])
    const healed = await decide(w, 'shared/main', proposalsOf(w))
    assert.ok(healed?.merge !== undefined)
    const voteOf = (d: Decision, node: string): string => d.proposals.find(g => g.nodes.includes(node))?.commits.join(' ') ?? ''
    // n0 proposes n1's commit but votes for its own; n2 wrote nothing, so it votes for what it proposes.
    assert.equal(voteOf(healed, 'n0'), a0.toString())
    assert.equal(voteOf(healed, 'n2'), a1.toString())
    store(w, healed)
    for (const n of ['n0', 'n1', 'n3']) w.adopt(n, healed.head)
    const after = await decide(w, 'shared/main', proposalsOf(w))
    assert.equal(voteOf(after!, 'n0'), a0.toString())
    assert.equal(after?.head.toString(), healed.head.toString())
  })

  it('leaves out weight 0 and counts a node once', async () => {
    const w = new World(['a', 'b'])
    const root = await w.write('a', ['x'])
    w.adopt('b', root)
    const a1 = await w.write('a', ['x'])
    const b1 = await w.write('b', ['y'])
    const zero = await decide(w, 'shared/main', [{ node: 'a', head: a1 }, { node: 'b', head: b1, weight: 0 }])
    assert.equal(zero?.head.toString(), a1.toString())
    assert.equal(await decide(w, 'shared/main', [{ node: 'b', head: b1, weight: 0 }]), undefined)
    const once = await decide(w, 'shared/main', [{ node: 'a', head: a1 }, { node: 'b', head: b1 }])
    const twice = await decide(w, 'shared/main', [{ node: 'a', head: a1 }, { node: 'b', head: b1 }, { node: 'b', head: b1 }, { node: 'a', head: a1 }])
    assert.equal(twice?.record.cid.toString(), once?.record.cid.toString())
  })

  it('similarity is shared over all entries, whatever the reference tree', async () => {
    const w = new World([])
    const tree = (m: Record<string, number>): CID => {
      const t = buildTree(Object.entries(m).map(([key, n]) => ({ key, value: valueOf(n) })))
      w.add(t.blocks)
      return t.root
    }
    const A = tree({ a: 1, b: 2, c: 3, d: 4 })
    const B = tree({ a: 1, b: 9, c: 3, e: 5 })
    const E = tree({})
    for (const ref of [A, B, E]) {
      const s = await TreeSimilarity.create(w, ref, new TreeSizes())
      assert.equal(await s.of(A, B), 2 / 5)
      assert.equal(await s.of(B, A), 2 / 5)
      assert.equal(await s.of(A, E), 0)
      assert.equal(await s.of(E, E), 1)
    }
  })

  it('is a pure function of the real commits seen: random histories, shuffled and duplicated proposals, nothing lost, same CIDs', async () => {
    const nodes = ['n0', 'n1', 'n2', 'n3', 'n4']
    const op = fc.record({
      node: fc.integer({ min: 0, max: 4 }),
      kind: fc.constantFrom('write', 'write', 'merge', 'adopt'),
      other: fc.integer({ min: 0, max: 4 }),
      keys: fc.subarray(['a', 'b', 'c', 'd', 'e', 'f'], { minLength: 1, maxLength: 3 }),
      remove: fc.subarray(['a', 'b', 'c', 'd', 'e', 'f'], { maxLength: 1 })
    })
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), fc.integer(), async (ops, seed) => {
      const w = new World(nodes)
      const root = await w.write('n0', ['a', 'b', 'c'])
      for (const n of nodes) w.adopt(n, root)
      for (const o of ops) {
        const node = nodes[o.node] as string
        const other = w.heads.get(nodes[o.other] as string) as CID
        if (o.kind === 'write') await w.write(node, o.keys, o.remove)
        else if (o.kind === 'merge') await w.merge(node, other)
        else w.adopt(node, other)
      }
      const proposals = proposalsOf(w)
      const d = await decide(w, 'shared/main', proposals)
      assert.ok(d !== undefined)
      // Shuffled, with duplicates, with a fresh cache: the same record and head.
      const shuffled = [...proposals, ...proposals.filter((_p, i) => (seed >> i) & 1)]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.abs(seed * (i + 7)) % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j] as Proposal, shuffled[i] as Proposal]
      }
      const again = await decide(w, 'shared/main', shuffled, { cache: { heights: new Map(), sizes: new TreeSizes() } })
      assert.equal(again?.record.cid.toString(), d.record.cid.toString())
      assert.equal(again?.head.toString(), d.head.toString())
      store(w, d)
      await assertNothingLost(w, d)
      const votes = (x: Decision): Map<string, string> => new Map(x.proposals.flatMap(g => g.nodes.map(n => [n, g.commits.join(' ')])))
      // Some nodes adopt the head (their proposals change, their votes need not): where no vote
      // changed, every candidate scores exactly as before (a score is summed over the votes, in an
      // order that proposals do not change), so the head is the same.
      const proposed = new Map(w.heads)
      for (const [i, n] of nodes.entries()) if (((seed >> (i + 8)) & 1) === 1) w.adopt(n, d.head)
      const adopted = await decide(w, 'shared/main', proposalsOf(w))
      for (const [n, head] of proposed) w.heads.set(n, head)
      assert.ok(adopted !== undefined)
      if (JSON.stringify([...votes(adopted)]) === JSON.stringify([...votes(d)])) {
        const scores = (x: Decision): Map<string, number> => new Map(x.candidates.map(c => [c.commit.toString(), c.score]))
        const before = scores(d)
        for (const [c, score] of scores(adopted)) if (before.has(c)) assert.equal(score, before.get(c), `score of ${c}`)
        assert.equal(adopted.head.toString(), d.head.toString())
      }
      // Every node adopts. A node that wrote a commit below the head keeps voting for its newest
      // one; a node that only followed now votes for the head's real commits, so the order of the
      // merge may settle once more, and then it does not move (no ping-pong). When no vote
      // changed, nothing can move.
      for (const n of nodes) w.adopt(n, d.head)
      const settled = await decide(w, 'shared/main', proposalsOf(w))
      assert.ok(settled !== undefined)
      assert.deepEqual(new Set(settled.maximal.map(String)), new Set(d.maximal.map(String)))
      if (JSON.stringify([...votes(settled)]) === JSON.stringify([...votes(d)])) assert.equal(settled.head.toString(), d.head.toString())
      store(w, settled)
      for (const n of nodes) w.adopt(n, settled.head)
      const fixed = await decide(w, 'shared/main', proposalsOf(w))
      assert.equal(fixed?.head.toString(), settled.head.toString())
    }), { numRuns: Number(process.env.RULE_RUNS ?? 60), ...(process.env.RULE_SEED != null ? { seed: Number(process.env.RULE_SEED) } : {}) })
  })
})

const valueOf = (n: number): CID => cidOf(new Uint8Array([n]), RAW)
