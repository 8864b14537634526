import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FrameService } from '../../src/services/frames.ts'
import { connectTo, frame, harness } from '../http/helpers.ts'
import type { Harness } from '../http/helpers.ts'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('frames.put with attach: the service stores the files and names them in the frame', () => {
  let h: Harness
  let remote: FrameService
  before(async () => {
    h = await harness()
    remote = (await connectTo(h)).frames
  })
  after(async () => { await h.close() })

  for (const [where, frames] of [['in-process', () => h.node.frames], ['through the daemon\'s client', () => remote]] as const) {
    test(`${where}: appended after the frame's own attachments, in order, as links`, async () => {
      const own = await h.node.frames.attach({ name: 'own.txt', bytes: bytes('already there') })
      const json = frame(`with-files-${where.length}`, { attachments: [{ name: own.name, cid: { '/': own.cid.toString() }, size: own.size, type: own.type }] })
      const record = await frames().put(json, { attach: [{ name: 'dir/a.txt', bytes: bytes('first file') }, { name: 'b.json', bytes: bytes('{"b":1}') }] })
      const got = record.frame.attachments ?? []
      assert.deepEqual(got.map(a => [a.name, a.type, a.size]), [['own.txt', 'text/plain', 13], ['a.txt', 'text/plain', 10], ['b.json', 'application/json', 7]])
      assert.ok(got.every(a => typeof a.cid.equals === 'function'), 'each CID is a link')
      // The stored frame names the stored files.
      const stored = await h.node.frames.get(record.id)
      assert.ok(stored.cid.equals(record.cid))
      assert.equal((await h.node.attachments.stat(got[1]!.cid)).size, 10)
      // The caller's value is left as it was.
      assert.equal((json.attachments as unknown[]).length, 1)
    })
  }

  test('without attach, or with none, the frame is put as given', async () => {
    const a = await h.node.frames.put(frame('plain-1'))
    const b = await h.node.frames.put(frame('plain-1'), { attach: [] })
    assert.ok(a.cid.equals(b.cid))
    assert.equal(a.frame.attachments, undefined)
  })
})
