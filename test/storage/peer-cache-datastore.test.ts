import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { Level } from 'level'
import { PEER_RECORDS_HELD, PeerCacheDatastore } from '../../src/storage/peer-cache-datastore.ts'
import { tempDir } from '../helpers/repo.ts'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('the peer-store cache over Helia\'s datastore', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let n = 0
  before(async () => { ({ dir, cleanup } = await tempDir()) })
  after(async () => { await cleanup() })

  /** The cached store and a plain one over the same LevelDB (what is on disk). */
  async function open (): Promise<{ cached: PeerCacheDatastore, disk: LevelDatastore, key: (s: string) => Key, db: Level<string, Uint8Array> }> {
    const db = new Level<string, Uint8Array>(join(dir, `db-${n++}`), { valueEncoding: 'view' })
    const cached = new PeerCacheDatastore(db)
    const disk = new LevelDatastore(db)
    await cached.open()
    await disk.open()
    return { cached, disk, key: (s) => new Key(s), db }
  }

  it('serves peer records from memory and writes them behind, in one batch, before a query reads LevelDB', async () => {
    const { cached, disk, key, db } = await open()
    await cached.put(key('/peers/a'), bytes('1'))
    await cached.put(key('/peers/a'), bytes('2'))
    assert.equal(text(await cached.get(key('/peers/a'))), '2')
    assert.equal(await cached.has(key('/peers/a')), true)
    assert.equal(await disk.has(key('/peers/a')), false, 'not on disk before the write behind')
    // A query sees every record, pending ones included.
    const found = []
    for await (const { key: k, value } of cached.query({ prefix: '/peers' })) found.push(`${k.toString()}=${text(value)}`)
    assert.deepEqual(found, ['/peers/a=2'])
    assert.equal(text(await disk.get(key('/peers/a'))), '2')
    // Other keys are written through.
    await cached.put(key('/pin/x'), bytes('p'))
    assert.equal(text(await disk.get(key('/pin/x'))), 'p')
    await db.close()
  })

  it('reads a record from LevelDB once, deletes through, and lets a batch win over what it holds', async () => {
    const { cached, disk, key, db } = await open()
    await disk.put(key('/peers/b'), bytes('disk'))
    assert.equal(text(await cached.get(key('/peers/b'))), 'disk')
    await disk.put(key('/peers/b'), bytes('changed behind its back'))
    assert.equal(text(await cached.get(key('/peers/b'))), 'disk', 'served from memory')
    await cached.put(key('/peers/c'), bytes('c'))
    await cached.delete(key('/peers/c'))
    await assert.rejects(cached.get(key('/peers/c')), { name: 'NotFoundError' })
    assert.equal(await disk.has(key('/peers/c')), false)
    await cached.put(key('/peers/d'), bytes('mine'))
    const batch = cached.batch()
    batch.put(key('/peers/d'), bytes('batch'))
    await batch.commit()
    assert.equal(text(await cached.get(key('/peers/d'))), 'batch')
    assert.equal(text(await disk.get(key('/peers/d'))), 'batch')
    await db.close()
  })

  it('writes what it holds when it stops (after libp2p, as Helia stops it) and when it closes', async () => {
    const { cached, disk, key, db } = await open()
    await cached.put(key('/peers/e'), bytes('e'))
    await cached.stop()
    assert.equal(text(await disk.get(key('/peers/e'))), 'e')
    await cached.put(key('/peers/f'), bytes('f'))
    await cached.close()
    const again = new LevelDatastore(db)
    await again.open()
    assert.equal(text(await again.get(key('/peers/f'))), 'f')
    await db.close()
  })

  it('holds at most PEER_RECORDS_HELD records, forgetting written ones first, and reads a forgotten one again', async () => {
    const { cached, disk, key, db } = await open()
    for (let i = 0; i < PEER_RECORDS_HELD + 10; i++) await cached.put(key(`/peers/p${i}`), bytes(String(i)))
    await cached.flush()
    await cached.put(key('/peers/newest'), bytes('n'))
    await disk.put(key('/peers/p0'), bytes('changed on disk'))
    // p0 was written and held longest: forgotten, so read from LevelDB again.
    assert.equal(text(await cached.get(key('/peers/p0'))), 'changed on disk')
    assert.equal(text(await cached.get(key(`/peers/p${PEER_RECORDS_HELD + 9}`))), String(PEER_RECORDS_HELD + 9))
    assert.equal(text(await cached.get(key('/peers/newest'))), 'n')
    await db.close()
  })

  it('writes behind by itself within a second', async () => {
    const { cached, disk, key, db } = await open()
    await cached.put(key('/peers/g'), bytes('g'))
    const deadline = Date.now() + 5000
    while (!(await disk.has(key('/peers/g'))) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(text(await disk.get(key('/peers/g'))), 'g')
    await db.close()
  })
})
