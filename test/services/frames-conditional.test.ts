import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { tempNode } from '../helpers/repo.ts'

const note = (id: string, text: string): Record<string, unknown> => ({ id, kind: 'note', body: { text } })

describe('frames.put and frames.remove with ifMatch (conditional writes)', () => {
  let t: Awaited<ReturnType<typeof tempNode>>
  before(async () => { t = await tempNode() })
  after(async () => { await t.cleanup() })

  it('writes when the current version is the one read, refuses with ERR_CONFLICT otherwise, and stages nothing then', async () => {
    const { node } = t
    const v1 = await node.frames.put(note('c/a', 'one'))
    const v2 = await node.frames.put(note('c/a', 'two'), { ifMatch: v1.cid })
    assert.ok((await node.frames.get('c/a')).cid.equals(v2.cid))
    const tree = await node.refs.workingTree()
    await assert.rejects(node.frames.put(note('c/a', 'three'), { ifMatch: v1.cid }), (err: any) => {
      assert.equal(err.code, 'ERR_CONFLICT')
      assert.deepEqual(err.details, { id: 'c/a', branch: 'main', expected: v1.cid.toString(), current: v2.cid.toString() })
      assert.match(err.message, /is at version .* not .*changed since it was read/)
      return true
    })
    assert.ok((await node.refs.workingTree()).equals(tree), 'a refused write stages nothing')
    // The same content again, at the version read: allowed (the write is a no-op).
    assert.ok((await node.frames.put(note('c/a', 'two'), { ifMatch: v2.cid })).cid.equals(v2.cid))
  })

  it('null is create-only: refused when the id has a frame, allowed when it has none', async () => {
    const { node } = t
    const created = await node.frames.put(note('c/new', 'first'), { ifMatch: null })
    await assert.rejects(node.frames.put(note('c/new', 'second'), { ifMatch: null }), (err: any) => {
      assert.equal(err.code, 'ERR_CONFLICT')
      assert.equal(err.details.current, created.cid.toString())
      assert.equal(err.details.expected, null)
      return true
    })
    // An expected version of an id with no frame: refused.
    await assert.rejects(node.frames.put(note('c/absent', 'x'), { ifMatch: created.cid }), { code: 'ERR_CONFLICT' })
  })

  it('checks the working tree of the branch written, not the commit', async () => {
    const { node } = t
    const base = await node.frames.put(note('c/b', 'base'))
    await node.commits.commit({ message: 'base' })
    const staged = await node.frames.put(note('c/b', 'staged'), { ifMatch: base.cid })
    await assert.rejects(node.frames.put(note('c/b', 'late'), { ifMatch: base.cid }), { code: 'ERR_CONFLICT' })
    await node.refs.createBranch('side')
    // On "side" the id is still at the committed version.
    const side = await node.frames.put(note('c/b', 'side'), { ifMatch: base.cid, branch: 'side' })
    assert.ok((await node.frames.get('c/b', { ref: 'side' })).cid.equals(base.cid), 'side is read at its commit')
    assert.ok(!side.cid.equals(staged.cid))
  })

  it('remove with ifMatch removes only the version read', async () => {
    const { node } = t
    const v1 = await node.frames.put(note('c/rm', 'one'))
    const v2 = await node.frames.put(note('c/rm', 'two'))
    await assert.rejects(node.frames.remove('c/rm', { ifMatch: v1.cid }), { code: 'ERR_CONFLICT' })
    assert.ok((await node.frames.get('c/rm')).cid.equals(v2.cid))
    await node.frames.remove('c/rm', { ifMatch: v2.cid })
    await assert.rejects(node.frames.get('c/rm'), { code: 'ERR_FRAME_NOT_FOUND' })
  })

  it('of 20 concurrent writers that read the same version exactly one wins; every other is told', async () => {
    const { node } = t
    const read = await node.frames.put(note('c/race', 'start'))
    const results = await Promise.allSettled(Array.from({ length: 20 }, async (_, i) =>
      await node.frames.put(note('c/race', `writer ${i}`), { ifMatch: read.cid })))
    const won = results.filter(r => r.status === 'fulfilled')
    const lost = results.filter(r => r.status === 'rejected')
    assert.equal(won.length, 1)
    assert.equal(lost.length, 19)
    for (const r of lost) assert.equal((r.reason as { code?: string }).code, 'ERR_CONFLICT')
    const winner = (won[0] as PromiseFulfilledResult<{ cid: CID }>).value
    assert.ok((await node.frames.get('c/race')).cid.equals(winner.cid), 'the winner is what the branch holds')
  })

  it('chained writers that each re-read after a conflict lose no update', async () => {
    const { node } = t
    await node.frames.put({ id: 'c/counter', kind: 'counter', body: { n: 0 } })
    const increment = async (): Promise<number> => {
      for (let attempt = 1; ; attempt++) {
        const current = await node.frames.get('c/counter')
        const n = (current.frame.body as { n: number }).n
        try {
          await node.frames.put({ id: 'c/counter', kind: 'counter', body: { n: n + 1 } }, { ifMatch: current.cid })
          return attempt
        } catch (err) {
          if ((err as { code?: string }).code !== 'ERR_CONFLICT') throw err
        }
      }
    }
    await Promise.all(Array.from({ length: 20 }, increment))
    assert.deepEqual((await node.frames.get('c/counter')).frame.body, { n: 20 })
    assert.ok(CID.asCID((await node.frames.get('c/counter')).cid) != null)
  })
})
