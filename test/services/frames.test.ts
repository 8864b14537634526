import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { tempNode } from '../helpers/repo.ts'

describe('frames.get', () => {
  let t: Awaited<ReturnType<typeof tempNode>>
  before(async () => { t = await tempNode() })
  after(async () => { await t.cleanup() })

  it('with byId reads an id that parses as a CID from the tree, without byId reads the CID', async () => {
    const { node } = t
    const other = await node.frames.put({ id: 'other', kind: 'fact', title: 'other', body: 'the CID names me' })
    // A frame whose id spells the CID of another frame.
    const tricky = await node.frames.put({ id: other.cid.toString(), kind: 'fact', title: 'tricky', body: 'my id is a CID' })
    assert.equal((await node.frames.get(other.cid.toString())).frame.body, 'the CID names me')
    const byId = await node.frames.get(other.cid.toString(), { byId: true })
    assert.equal(byId.frame.body, 'my id is a CID')
    assert.ok(byId.cid.equals(tricky.cid))
    await assert.rejects(node.frames.get('absent', { byId: true }), { code: 'ERR_FRAME_NOT_FOUND', message: 'no frame "absent" in the working tree' })
    await node.commits.commit({ message: 'both' })
    await node.frames.remove(other.cid.toString())
    await assert.rejects(node.frames.get(other.cid.toString(), { byId: true }), { code: 'ERR_FRAME_NOT_FOUND' })
    assert.equal((await node.frames.get(other.cid.toString(), { byId: true, ref: 'HEAD' })).frame.body, 'my id is a CID')
  })
})
