// Linear runs of a large graph drawn as one node each (no DOM, no library: node's tests import it too).

/**
 * The linear runs of a DAG: maximal chains of nodes that each have exactly one edge in and one
 * edge out (a commit with one parent and one child, a step continued by one step) and nothing
 * that marks them (`marked(node)`: a merge, a fork point, a branch head, a root, a head). Nodes
 * among the first `keepFirst` of `nodes` (the display order: the newest commits, the first
 * steps) are never in a run, nor the ids of `keep`. Runs shorter than `minRun` are left alone.
 *
 * `nodes` are `{ id }` in display order, `edges` `{ source, target }`. Returns the runs in the
 * display order of their first member, each `{ id, members }` (members in display order; the id
 * is `run:` and its first member's id), and `runOf`, the run id of every member.
 */
export function linearRuns (nodes, edges, { keepFirst = 0, minRun = 2, marked = () => false, keep = [] } = {}) {
  const ins = new Map()
  const outs = new Map()
  const index = new Map(nodes.map((n, i) => [n.id, i]))
  for (const e of edges) {
    if (!index.has(e.source) || !index.has(e.target)) continue
    ins.set(e.target, [...(ins.get(e.target) ?? []), e.source])
    outs.set(e.source, [...(outs.get(e.source) ?? []), e.target])
  }
  const pinned = new Set(keep)
  const linear = new Set()
  for (const [i, n] of nodes.entries()) {
    if (i < keepFirst || pinned.has(n.id) || marked(n)) continue
    if (ins.get(n.id)?.length === 1 && outs.get(n.id)?.length === 1) linear.add(n.id)
  }
  const runs = []
  const runOf = new Map()
  for (const n of nodes) {
    // A run starts at a linear node whose one predecessor is not linear; it goes on while the
    // successor is linear (a DAG has no cycle, so every run has such a start).
    if (!linear.has(n.id) || linear.has(ins.get(n.id)[0])) continue
    const members = [n.id]
    for (let next = outs.get(n.id)[0]; linear.has(next); next = outs.get(next)[0]) members.push(next)
    if (members.length < minRun) continue
    members.sort((a, b) => index.get(a) - index.get(b))
    runs.push({ id: `run:${members[0]}`, members })
  }
  runs.sort((a, b) => index.get(a.members[0]) - index.get(b.members[0]))
  for (const r of runs) for (const m of r.members) runOf.set(m, r.id)
  return { runs, runOf }
}

/**
 * What is drawn of a graph whose runs are collapsed but those in `expanded` (run ids): the nodes
 * in display order, a collapsed run in the place of its first member (`{ id, run: members }`),
 * and the edges between what is drawn (an edge into or out of a collapsed run goes to the run;
 * edges inside it are not drawn). Each edge has the id `source>target` of what it joins.
 */
export function visibleGraph (nodes, edges, { runs, runOf }, expanded = new Set()) {
  const byId = new Map(runs.map(r => [r.id, r]))
  const shown = (id) => {
    const r = runOf.get(id)
    return r == null || expanded.has(r) ? id : r
  }
  const out = []
  for (const n of nodes) {
    const at = shown(n.id)
    if (at === n.id) out.push(n)
    else if (byId.get(at).members[0] === n.id) out.push({ id: at, run: byId.get(at).members })
  }
  const drawn = new Set(out.map(n => n.id))
  const seen = new Set()
  const outEdges = []
  for (const e of edges) {
    const source = shown(e.source)
    const target = shown(e.target)
    const id = `${source}>${target}`
    if (source === target || seen.has(id) || !drawn.has(source) || !drawn.has(target)) continue
    seen.add(id)
    outEdges.push({ id, source, target })
  }
  return { nodes: out, edges: outEdges }
}
