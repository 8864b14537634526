import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { CommitGraph, decide, flatten } from '../../../src/core/consensus/index.ts'
import { World } from './world.ts'

/**
 * A commit, and a consensus commit, may name at most 64 parents (schemas/commit.schema.json,
 * consensus-commit.schema.json), but decide() builds the consensus commit of every maximal
 * candidate, however many: with 65 nodes that wrote at once, the head it returns is a block that
 * no node can read back (ERR_COMMIT_INVALID), so the next decision over a proposal of it fails and
 * the swarm cannot move on.
 */
it('the consensus commit of 65 concurrent writes is a commit nodes can read and decide on', async () => {
  const nodes = Array.from({ length: 65 }, (_, i) => `n${i}`)
  const w = new World(nodes)
  const root = await w.write('n0', ['base'])
  for (const n of nodes) w.adopt(n, root)
  for (const n of nodes) await w.write(n, [`${n}/note`])
  const d = await decide(w, 'shared/main', nodes.map(node => ({ node, head: w.heads.get(node) as CID })))
  assert.ok(d?.merge !== undefined)
  w.add([d.merge, ...d.merge.blocks])
  // One node adopts it and proposes it.
  const graph = new CommitGraph(w)
  assert.equal((await flatten(graph, d.head)).length, 65)
  const next = await decide(w, 'shared/main', [{ node: 'n0', head: d.head }])
  assert.ok(next !== undefined)
})
