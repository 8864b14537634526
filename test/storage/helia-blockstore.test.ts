import assert from 'node:assert/strict'
import { join } from 'node:path'
import { it } from 'node:test'
import { encodeBlock } from '../../src/core/block.ts'
import { fetchedOptions } from '../../src/core/fetched.ts'
import { blockKey } from '../../src/storage/level-db.ts'
import { dropFetched } from '../../src/storage/fetched.ts'
import { openRepo } from '../../src/storage/repo.ts'
import { tempNode } from '../helpers/repo.ts'

async function bytesOf (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  return Buffer.concat(chunks)
}

it('Helia\'s blockstore keeps fetched blocks apart from the repository\'s blocks until they are imported', async () => {
  const { node, dir, cleanup } = await tempNode()
  try {
    const helia = await node.repo.helia()
    const own = encodeBlock({ id: 'own', kind: 'fact' })
    const fetched = encodeBlock({ id: 'fetched', kind: 'fact' })
    await helia.blockstore.put(own.cid, own.bytes)
    await helia.blockstore.put(fetched.cid, fetched.bytes, fetchedOptions({ signal: AbortSignal.timeout(10_000) }))

    // framehub sees only its own write; Helia sees both.
    assert.equal(await node.repo.blocks.has(own.cid), true)
    assert.equal(await node.repo.blocks.has(fetched.cid), false)
    assert.equal(await helia.blockstore.has(fetched.cid), true)
    assert.ok((await bytesOf(helia.blockstore.get(fetched.cid))).equals(fetched.bytes))
    assert.ok((await bytesOf(helia.blockstore.get(own.cid))).equals(own.bytes))
    const listed: string[] = []
    for await (const pair of helia.blockstore.getAll()) listed.push(blockKey(pair.cid))
    assert.equal(listed.includes(blockKey(fetched.cid)), false, 'getAll lists the repository\'s blocks only')
    assert.equal(listed.includes(blockKey(own.cid)), true)

    // Not promoted yet: kept (a fetch that runs again uses it).
    assert.equal(await dropFetched(node.repo.db), 0)
    assert.notEqual(await node.repo.db.fetched.get(blockKey(fetched.cid)), undefined)
    // Imported: the fetched copy goes.
    await node.repo.batch().putBlock(fetched.cid, fetched.bytes).write()
    assert.equal(await dropFetched(node.repo.db), 1)
    assert.equal(await node.repo.db.fetched.get(blockKey(fetched.cid)), undefined)
    assert.equal(await helia.blockstore.has(fetched.cid), true)

    // Deleting through Helia deletes both copies.
    const twice = encodeBlock({ id: 'twice', kind: 'fact' })
    await helia.blockstore.put(twice.cid, twice.bytes, fetchedOptions({ signal: AbortSignal.timeout(10_000) }))
    await helia.blockstore.delete(twice.cid)
    assert.equal(await helia.blockstore.has(twice.cid), false)

    // What a fetch left behind is dropped when the repository opens again.
    const left = encodeBlock({ id: 'left', kind: 'fact' })
    await helia.blockstore.put(left.cid, left.bytes, fetchedOptions({ signal: AbortSignal.timeout(10_000) }))
    await node.close()
    const repo = await openRepo(join(dir, 'repo'))
    try {
      assert.equal(await repo.db.fetched.get(blockKey(left.cid)), undefined)
      assert.equal(await repo.blocks.has(left.cid), false)
      assert.equal(await repo.blocks.has(own.cid), true)
    } finally {
      await repo.close()
    }
  } finally {
    await cleanup()
  }
})

it('Helia\'s reads are hash-checked like framehub\'s: a block corrupted on disk is ERR_BLOCK_CORRUPT, never bytes', async () => {
  const { node, cleanup } = await tempNode()
  try {
    const helia = await node.repo.helia()
    const stored = encodeBlock({ id: 'stored', kind: 'fact' })
    const fetched = encodeBlock({ id: 'fetched', kind: 'fact' })
    await helia.blockstore.put(stored.cid, stored.bytes)
    await helia.blockstore.put(fetched.cid, fetched.bytes, fetchedOptions({ signal: AbortSignal.timeout(10_000) }))
    const garbage = new TextEncoder().encode('garbage')
    await node.repo.db.blocks.put(blockKey(stored.cid), garbage)
    await node.repo.db.fetched.put(blockKey(fetched.cid), garbage)
    await assert.rejects(bytesOf(helia.blockstore.get(stored.cid)), { code: 'ERR_BLOCK_CORRUPT' })
    await assert.rejects(bytesOf(helia.blockstore.get(fetched.cid)), { code: 'ERR_BLOCK_CORRUPT' })
    // A miss is still what Helia and its modules expect of a blockstore.
    const missing = encodeBlock({ id: 'missing', kind: 'fact' })
    await assert.rejects(bytesOf(helia.blockstore.get(missing.cid, { offline: true } as never)), (err: Error) => err.name === 'NotFoundError' || err.name === 'BlockNotFoundWhileOfflineError')
    // Helia reads what framehub reads, the journal's blocks included: one read path.
    const step = await node.traces.append('goal', { op: 'thought', content: 'journaled' })
    assert.equal(await helia.blockstore.has(step.cid), true)
    assert.ok((await bytesOf(helia.blockstore.get(step.cid))).equals(await node.repo.blocks.get(step.cid)))
  } finally {
    await cleanup()
  }
})
