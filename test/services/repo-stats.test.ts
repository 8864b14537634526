import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { tempNode } from '../helpers/repo.ts'

describe('repository stats', () => {
  let t: Awaited<ReturnType<typeof tempNode>>
  before(async () => { t = await tempNode() })
  after(async () => { await t.cleanup() })

  it('counts sessions and pins, and estimates sizes', async () => {
    const { node } = t
    assert.equal(await node.stats.sessions(), 0)
    assert.equal(await node.stats.pins(), 0)
    await node.traces.append('one', { op: 'thought', content: 'a' })
    await node.traces.append('one', { op: 'thought', content: 'b' })
    await node.traces.append('two', { op: 'thought', content: 'c' })
    assert.equal(await node.stats.sessions(), 2)
    for (const read of [node.stats.blocksBytes, node.stats.storeBytes]) {
      const n = await read()
      assert.ok(Number.isSafeInteger(n) && n >= 0, `size ${n}`)
    }
  })

  it('counts frames per branch head and distinct commits, and follows commits and branch deletion', async () => {
    const { node } = t
    assert.deepEqual(await node.stats.counts(), { frames: new Map(), commits: 0 })
    const put = async (id: string): Promise<void> => { await node.frames.put({ id, kind: 'fact', title: id, body: id }) }
    await put('a')
    await put('b')
    await node.commits.commit({ message: 'two' })
    const main = (await node.refs.currentBranch())
    assert.deepEqual(await node.stats.counts(), { frames: new Map([[main, 2]]), commits: 1 })
    await node.refs.createBranch('side')
    await put('c')
    await node.frames.remove('a')
    await put('d')
    // Staged changes are not counted: frames of the committed tree only.
    assert.deepEqual(await node.stats.counts(), { frames: new Map([[main, 2], ['side', 2]]), commits: 1 })
    await node.commits.commit({ message: 'three' })
    assert.deepEqual(await node.stats.counts(), { frames: new Map([[main, 3], ['side', 2]]), commits: 2 })
    await node.refs.deleteBranch('side')
    assert.deepEqual(await node.stats.counts(), { frames: new Map([[main, 3]]), commits: 2 })
  })
})
