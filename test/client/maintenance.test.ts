import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { NodeServices } from '../../src/node.ts'
import { connectTo, frame, harness } from '../http/helpers.ts'
import type { Harness } from '../http/helpers.ts'

describe('the daemon\'s client gives gc and the frame index as the in-process node does', () => {
  let h: Harness
  let remote: NodeServices
  before(async () => {
    h = await harness()
    for (const id of ['a', 'b', 'c']) await h.node.frames.put(frame(id, { tags: ['t'] }))
    await h.node.commits.commit({ message: 'three frames' })
    remote = await connectTo(h)
  })
  after(async () => {
    await remote.close()
    await h.close()
  })

  test('index status: the same branches, CIDs as CIDs', async () => {
    const local = await h.node.index.status()
    const got = await remote.index.status()
    assert.deepEqual(got.map(s => ({ ...s, head: s.head?.toString(), indexed: s.indexed?.toString() })),
      local.map(s => ({ ...s, head: s.head?.toString(), indexed: s.indexed?.toString() })))
    assert.ok(got[0]?.head?.equals(local[0]?.head), 'head is a CID')
  })

  test('index rebuild: the updates, with progress events named as in-process', async () => {
    const events: string[] = []
    const updates = await remote.index.rebuild('main', { onProgress: (e) => { events.push(e.type) } })
    assert.deepEqual(updates.map(u => [u.branch, u.mode, u.frames, u.tree?.toString()]),
      [['main', 'rebuild', 3, (await h.node.index.status())[0]?.indexed?.toString()]])
    assert.ok(events.every(t => t === 'index:rebuild:progress'), events.join())
    await assert.rejects(remote.index.rebuild('nosuch'), { code: 'ERR_REF_NOT_FOUND' })
  })

  test('gc: the counts of the in-process result', async () => {
    const local = await h.node.gc.gc({ dryRun: true })
    const got = await remote.gc.gc({ dryRun: true })
    assert.deepEqual(got, { removed: local.removed, kept: local.kept, bytesFreed: local.bytesFreed, dryRun: true })
  })
})
