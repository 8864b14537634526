/**
 * The explorer's collapsed runs (ui/collapse.js, the page's own module, run here in Node): which
 * nodes of a graph fold into one node, and what is drawn with some runs expanded.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { linearRuns, visibleGraph } from '../../ui/collapse.js'

/**
 * A commit graph as the explorer draws it, newest first, edges from child to parent: main is
 * m9 → … → m0, with a side branch s1 → s0 forked at m2 and merged by m6, and a branch head at m4.
 */
const ids = ['m9', 'm8', 'm7', 'm6', 's1', 'm5', 's0', 'm4', 'm3', 'm2', 'm1', 'm0']
const parents: Record<string, string[]> = { m9: ['m8'], m8: ['m7'], m7: ['m6'], m6: ['m5', 's1'], s1: ['s0'], m5: ['m4'], s0: ['m2'], m4: ['m3'], m3: ['m2'], m2: ['m1'], m1: ['m0'], m0: [] }
const classes: Record<string, string[]> = { m9: ['head'], m6: ['merge'], m4: ['head'], m2: ['split'] }
const nodes = ids.map(id => ({ id, classes: classes[id] ?? [] }))
const edges = ids.flatMap(id => (parents[id] ?? []).map(p => ({ source: id, target: p })))
const marked = (n: { classes?: string[] }): boolean => (n.classes ?? []).length > 0

test('linear runs: chains of one-parent, one-child nodes, never a marked node, the first rows, a kept id or a run shorter than the minimum', () => {
  assert.deepEqual(linearRuns(nodes, edges, { marked }).runs, [
    { id: 'run:m8', members: ['m8', 'm7'] },
    { id: 'run:s1', members: ['s1', 's0'] }
  ])
  // m5 sits between the merge and a head; m1 between a fork point and the root: both alone.
  const { runs, runOf } = linearRuns(nodes, edges, { marked, minRun: 1 })
  assert.deepEqual(runs.map(r => r.members), [['m8', 'm7'], ['s1', 's0'], ['m5'], ['m3'], ['m1']])
  assert.equal(runOf.get('m7'), 'run:m8')
  assert.equal(runOf.get('m6'), undefined)
  // The first 3 rows stay drawn (m9, m8, m7): m8's run is gone.
  assert.deepEqual(linearRuns(nodes, edges, { marked, keepFirst: 3 }).runs.map(r => r.id), ['run:s1'])
  assert.deepEqual(linearRuns(nodes, edges, { marked, keep: ['s0'] }).runs.map(r => r.id), ['run:m8'])
  assert.deepEqual(linearRuns(nodes, edges, { marked, minRun: 3 }).runs, [])
  // Unmarked, the head m9 (no child) and the root m0 (no parent) are still not linear.
  assert.deepEqual(linearRuns(nodes, edges).runs.map(r => r.members), [['m8', 'm7'], ['s1', 's0'], ['m5', 'm4', 'm3']])
  // Edges to nodes that are not in the graph (parents past the newest 1,000) do not count.
  assert.deepEqual(linearRuns(nodes.slice(0, 3), edges).runs, [])
  assert.deepEqual(linearRuns([], []).runs, [])
})

test('the visible graph: a collapsed run in place of its first member, edges into and out of it, none inside; expanded, the graph as it is', () => {
  const runs = linearRuns(nodes, edges, { marked })
  const folded = visibleGraph(nodes, edges, runs)
  assert.deepEqual(folded.nodes.map(n => n.id), ['m9', 'run:m8', 'm6', 'run:s1', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0'])
  assert.deepEqual(folded.nodes[1], { id: 'run:m8', run: ['m8', 'm7'] })
  assert.deepEqual(folded.edges.map(e => e.id), ['m9>run:m8', 'run:m8>m6', 'm6>m5', 'm6>run:s1', 'm5>m4', 'run:s1>m2', 'm4>m3', 'm3>m2', 'm2>m1', 'm1>m0'])
  const one = visibleGraph(nodes, edges, runs, new Set(['run:s1']))
  assert.deepEqual(one.nodes.map(n => n.id), ['m9', 'run:m8', 'm6', 's1', 'm5', 's0', 'm4', 'm3', 'm2', 'm1', 'm0'])
  assert.equal(one.edges.length, 11)
  const all = visibleGraph(nodes, edges, runs, new Set(runs.runs.map(r => r.id)))
  assert.deepEqual(all.nodes, nodes)
  assert.deepEqual(all.edges, edges.map(e => ({ id: `${e.source}>${e.target}`, ...e })))
})

test('a session of three routes from one root, joined at the end: one run per route past the first rows', () => {
  // Steps interleaved by route (as appended round-robin), edges from parent to step.
  const steps = ['root']
  const tips = ['root', 'root', 'root']
  const stepEdges: Array<{ source: string, target: string }> = []
  for (let i = 1; i < 100; i++) {
    const id = `s${i}`
    stepEdges.push({ source: tips[i % 3] as string, target: id })
    tips[i % 3] = id
    steps.push(id)
  }
  steps.push('end')
  for (const t of tips) stepEdges.push({ source: t, target: 'end' })
  const stepNodes = steps.map(id => ({ id, classes: id === 'root' ? ['root'] : id === 'end' ? ['head'] : [] }))
  const runs = linearRuns(stepNodes, stepEdges, { marked, keepFirst: 10, minRun: 4 })
  assert.deepEqual(runs.runs.map(r => [r.id, r.members.length]), [['run:s10', 30], ['run:s11', 30], ['run:s12', 30]])
  const drawn = visibleGraph(stepNodes, stepEdges, runs)
  assert.equal(drawn.nodes.length, 10 + 3 + 1)
  assert.equal(drawn.edges.length, 9 + 3 + 3)
  assert.ok(drawn.edges.some(e => e.id === 'run:s10>end'))
})
