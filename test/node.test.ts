import assert from 'node:assert/strict'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, afterEach, before, describe, it } from 'node:test'
import { encodeBlock } from '../src/core/block.ts'
import { createGateway } from '../src/http/app.ts'
import { createNode } from '../src/node.ts'
import type { FramehubNode } from '../src/node.ts'
import { indexLimits } from '../src/storage/frame-index/layout.ts'
import { startDaemonProcess, waitFor } from './helpers/daemon.ts'
import { tempDir } from './helpers/repo.ts'

/** Waits (without querying the index) until `main`'s index describes its head; false if it never does. */
async function caughtUp (node: FramehubNode): Promise<boolean> {
  for (let i = 0; i < 1000; i++) {
    if ((await node.index.status()).find(s => s.branch === 'main')?.current === true) return true
    await sleep(10)
  }
  return false
}

/** A commit too big to index in its own write: it leaves main's index behind. */
async function bigCommit (node: FramehubNode, tag: string): Promise<void> {
  await node.frames.import(Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `${tag}/${String(i).padStart(2, '0')}`, kind: 'fact', title: `${tag} frame ${i}` })))
  await node.commits.commit({ message: tag })
}

describe('createNode, the one composition root', { timeout: 120_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  const saved = { ...indexLimits }
  before(async () => { ({ dir, cleanup } = await tempDir('framehub-node-')) })
  afterEach(() => { Object.assign(indexLimits, saved) })
  after(async () => { await cleanup() })

  it('an embedder that asks for background work gets the frame index caught up, with no daemon and no query', async () => {
    const repo = join(dir, 'catch-up')
    Object.assign(indexLimits, { maxBatchOps: 10, chunkOps: 4 })

    // Without background work the index stays behind until a query catches it up.
    const plain = await createNode({ repo, create: true })
    await bigCommit(plain, 'one')
    assert.equal((await plain.index.status()).find(s => s.branch === 'main')?.current, false, 'behind after the big commit')
    await plain.close()

    // Opened again with background work: the branch left behind is caught up at start...
    const node = await createNode({ repo, background: true })
    try {
      assert.equal(await caughtUp(node), true, 'caught up at start')
      // ...and so is each branch a later commit leaves behind.
      await bigCommit(node, 'two')
      assert.equal(await caughtUp(node), true, 'caught up after a ref move')
      const indexed = (await node.index.status()).find(s => s.branch === 'main')
      assert.ok(indexed?.head != null && indexed.indexed?.equals(indexed.head))
    } finally {
      await node.close()
    }
  })

  it('the daemon is such a node: it catches up an index left behind, with no query', async () => {
    const repo = join(dir, 'daemon')
    Object.assign(indexLimits, { maxBatchOps: 10, chunkOps: 4 })
    const plain = await createNode({ repo, create: true })
    await bigCommit(plain, 'one')
    assert.equal((await plain.index.status()).find(s => s.branch === 'main')?.current, false, 'behind after the big commit')
    await plain.close()
    const daemon = await startDaemonProcess(repo, ['--offline'])
    try {
      const status = await waitFor('the daemon to catch the index up', async () => {
        const r = await daemon.cli(['index', 'status', '--json'])
        assert.equal(r.code, 0, r.stderr)
        const main = (r.json.branches as Array<{ branch: string, current: boolean, head: string, indexed: string }>).find(b => b.branch === 'main')
        return main?.current === true ? main : undefined
      })
      assert.equal(status.indexed, status.head)
    } finally {
      await daemon.stop()
    }
  })

  it('each node has its own frame index, closed with it: a node opened again on the same repository answers queries', async () => {
    const repo = join(dir, 'reopen')
    const first = await createNode({ repo, create: true, background: true })
    await first.frames.put({ id: 'a/1', kind: 'fact', title: 'first' })
    await first.commits.commit({ message: 'one' })
    await first.close()
    const second = await createNode({ repo, background: true })
    try {
      const listed: string[] = []
      for await (const r of second.frames.list({ ref: 'main', kind: 'fact' })) listed.push(r.id)
      assert.deepEqual(listed, ['a/1'])
    } finally {
      await second.close()
    }
  })

  it('the pinning service is the node\'s: an embedder pins without a gateway, and a gateway serves the same store', async () => {
    const node = await createNode({ repo: join(dir, 'pins'), create: true })
    try {
      const block = encodeBlock({ pinned: 'by an embedder' })
      await node.repo.blocks.putMany([block])
      const record = await node.pins.add({ cid: block.cid.toString(), name: 'embedded' })
      await node.pins.idle()
      assert.equal((await node.pins.get(record.requestid))?.status, 'pinned')
      assert.equal(await (await node.repo.helia()).pins.isPinned(block.cid), true)

      const app = await createGateway(node, { logger: false, underPressure: false, docs: false })
      try {
        assert.equal(app.framehub.pins, node.pins)
        const res = await app.inject({ url: `/pins/${record.requestid}`, headers: { authorization: `Bearer ${node.repo.config.apiToken}` } })
        assert.equal(res.statusCode, 200, res.body)
        assert.equal((res.json() as { status: string }).status, 'pinned')
      } finally {
        await app.close()
      }
    } finally {
      await node.close()
    }
  })
})
