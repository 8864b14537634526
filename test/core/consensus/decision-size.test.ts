import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { decide } from '../../../src/core/consensus/index.ts'
import type { Proposal } from '../../../src/core/consensus/index.ts'
import { World } from './world.ts'

/**
 * The decision record lists, for every candidate, every voter's term and every real commit behind
 * that voter's proposal: candidates × voters × commits per proposal. When a swarm has merged many
 * concurrent writes into one consensus commit and every node adopted it (the converged state), that
 * is n³ parts: with 30 nodes (30³ parts of about 76 bytes) the record is over the 1 MiB block limit and decide() throws
 * ERR_PAYLOAD_TOO_LARGE, so no node can decide again (the simulation of `npm run sim` meets this
 * with 50 nodes and churn).
 */
it('decides the converged head of 30 nodes that merged 30 concurrent writes', async () => {
  const nodes = Array.from({ length: 30 }, (_, i) => `n${i}`)
  const w = new World(nodes)
  const root = await w.write('n0', ['base'])
  for (const n of nodes) w.adopt(n, root)
  for (const n of nodes) await w.write(n, [`${n}/note`])
  const proposals = (): Proposal[] => nodes.map(node => ({ node, head: w.heads.get(node) as CID }))
  const d = await decide(w, 'shared/main', proposals())
  assert.ok(d?.merge !== undefined)
  assert.equal(d.maximal.length, 30)
  w.add([d.merge, ...d.merge.blocks])
  // Every node adopts the consensus commit: the swarm has converged.
  for (const n of nodes) w.adopt(n, d.head)
  const again = await decide(w, 'shared/main', proposals())
  assert.equal(again?.maximal.length, 30)
})
