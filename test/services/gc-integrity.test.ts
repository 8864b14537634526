import assert from 'node:assert/strict'
import { it } from 'node:test'
import { CID } from 'multiformats/cid'
import { linksOf } from '../../src/core/block.ts'
import { tempNode } from '../helpers/repo.ts'

it('gc over a reachable block corrupted on disk stops with ERR_BLOCK_CORRUPT and sweeps nothing', async () => {
  const { node, cleanup } = await tempNode()
  try {
    const frames = await Promise.all(Array.from({ length: 3 }, async (_, i) => await node.frames.put({ id: `gc/${i}`, kind: 'fact', body: i })))
    const { commit, tree } = await node.commits.commit({ message: 'one' })
    // The tree's root node links to the frames: corrupt it, and gc cannot know what it reaches.
    const root = await node.repo.blocks.get(tree)
    assert.ok(linksOf(tree, root).length > 0)
    const unreachable = await node.frames.put({ id: 'gc/garbage', kind: 'fact', body: 'x' })
    await node.frames.remove('gc/garbage')
    await node.repo.batch().putBlock(tree, new TextEncoder().encode('rotten')).write()

    await assert.rejects(node.gc.gc(), { code: 'ERR_BLOCK_CORRUPT' })
    for (const f of frames) assert.equal(await node.repo.blocks.has(f.cid), true, `frame ${f.id} is kept`)
    assert.equal(await node.repo.blocks.has(commit), true)
    assert.equal(await node.repo.blocks.has(CID.parse(unreachable.cid.toString())), true, 'nothing was swept')
  } finally {
    await cleanup()
  }
})
