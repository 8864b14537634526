import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { tempNode } from '../helpers/repo.ts'

const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('utf8')

async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const chunk of source) out.push(chunk)
  return out
}

describe('attachment service', () => {
  let t: Awaited<ReturnType<typeof tempNode>>
  let node: FramehubNode
  before(async () => { t = await tempNode(); node = t.node })
  after(async () => { await t.cleanup() })

  it('add stores the file and remembers its name and media type; stat, label and cat read it back', async () => {
    const record = await node.attachments.add({ name: 'dir/notes.txt', bytes: new TextEncoder().encode('hello, attachments') })
    assert.equal(record.name, 'notes.txt')
    assert.equal(record.type, 'text/plain')
    assert.equal(record.size, 18)
    const stat = await node.attachments.stat(record.cid)
    // A small file is one raw leaf.
    assert.equal(stat.kind, 'raw')
    assert.equal(stat.size, 18)
    assert.deepEqual(await node.attachments.label(record.cid), { name: 'notes.txt', type: 'text/plain' })
    assert.equal(text(await collect(node.attachments.cat(record.cid))), 'hello, attachments')
    assert.equal(text(await collect(node.attachments.cat(record.cid, { offset: 7, length: 11 }))), 'attachments')
  })

  it('the label is state written through the repository (it is there after a reopen)', async (ctx) => {
    // A repository of its own: the others keep the node they share open.
    const own = await tempNode()
    let reopened: FramehubNode | undefined
    ctx.after(async () => { await reopened?.close(); await own.cleanup() })
    const record = await own.node.attachments.add({ name: 'data.bin', bytes: new Uint8Array([1, 2, 3]), type: 'application/x-test' })
    await own.node.close()
    reopened = await createNode({ repo: own.node.repo.path })
    assert.deepEqual(await reopened.attachments.label(record.cid), { name: 'data.bin', type: 'application/x-test' })
  })

  it('frames.attach stores a file without a label', async () => {
    const record = await node.frames.attach({ name: 'plain.md', bytes: new TextEncoder().encode('# unlabelled') })
    assert.equal(record.type, 'text/markdown')
    assert.equal((await node.attachments.stat(record.cid)).size, 12)
    assert.equal(await node.attachments.label(record.cid), undefined)
  })

  it('stat of a CID that is not in the repository is ERR_BLOCK_NOT_FOUND (no network wait)', async () => {
    const absent = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    await assert.rejects(node.attachments.stat(absent), { code: 'ERR_BLOCK_NOT_FOUND' })
  })
})
