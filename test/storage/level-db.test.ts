import assert from 'node:assert/strict'
import { cp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { Level } from 'level'
import { cidOf, RAW } from '../../src/core/cid.ts'
import { createNode, initNode } from '../../src/node.ts'
import { blockKey, blockKeyReference, isStoreFailure, openRepoDb } from '../../src/storage/level-db.ts'
import { REPO_MARKER } from '../../src/storage/repo-path.ts'
import { runCli, tempDir } from '../helpers/repo.ts'

it('blockKey gives exactly the blockstore-level key (base32upper of the multihash)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, raw) => {
    const cid = cidOf(bytes, raw ? RAW : 0x71)
    assert.equal(blockKey(cid), blockKeyReference(cid))
  }), { numRuns: 500 })
})

describe('a damaged LevelDB store is ERR_REPO_CORRUPT (exit 5), never an internal error', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let good: string
  let commit: string
  before(async () => {
    ({ dir, cleanup } = await tempDir())
    good = join(dir, 'good')
    const node = await initNode({ repo: good })
    await node.frames.put({ id: 'kept/one', kind: 'fact', body: 'one' })
    commit = (await node.commits.commit({ message: 'one' })).commit.toString()
    await node.close()
    // Everything into table files (.ldb), as a store that has been in use for a while.
    const db = new Level<string, Uint8Array>(join(good, 'store'), { valueEncoding: 'view' })
    await db.open()
    await (db as unknown as { compactRange: (start: string, end: string) => Promise<void> }).compactRange('\u0000', '\uffff')
    await db.close()
    assert.ok((await readdir(join(good, 'store'))).some(f => f.endsWith('.ldb')), 'the store has table files')
  })
  after(async () => { await cleanup() })

  /** A copy of the good repository, damaged by `damage(storeDir)`. */
  const damaged = async (name: string, damage: (store: string, files: string[]) => Promise<void>): Promise<string> => {
    const repo = join(dir, name)
    await cp(good, repo, { recursive: true })
    const store = join(repo, 'store')
    await damage(store, await readdir(store))
    return repo
  }
  const refused = async (repo: string): Promise<void> => {
    await assert.rejects(async () => {
      const node = await createNode({ repo })
      try {
        await node.commits.show(commit)
        await Array.fromAsync(node.frames.list())
      } finally {
        await node.close()
      }
    }, { code: 'ERR_REPO_CORRUPT' })
    const cli = await runCli(['--repo', repo, 'log', '--json'])
    assert.equal(cli.code, 5, cli.stderr)
    assert.equal(JSON.parse(cli.stderr).code, 'ERR_REPO_CORRUPT')
  }

  it('a truncated or emptied table file (.ldb)', async () => {
    await refused(await damaged('truncated', async (store, files) => {
      for (const f of files.filter(f => f.endsWith('.ldb'))) await truncate(join(store, f), 100)
    }))
    await refused(await damaged('emptied', async (store, files) => {
      for (const f of files.filter(f => f.endsWith('.ldb'))) await truncate(join(store, f), 0)
    }))
  })

  it('a garbled or truncated MANIFEST, a garbled or emptied CURRENT', async () => {
    const manifest = (files: string[]): string => files.find(f => f.startsWith('MANIFEST-')) as string
    await refused(await damaged('manifest-garbled', async (store, files) => { await writeFile(join(store, manifest(files)), 'garbage') }))
    await refused(await damaged('manifest-truncated', async (store, files) => { await truncate(join(store, manifest(files)), 10) }))
    await refused(await damaged('current-garbled', async (store) => { await writeFile(join(store, 'CURRENT'), 'garbage\n') }))
    await refused(await damaged('current-empty', async (store) => { await truncate(join(store, 'CURRENT'), 0) }))
  })

  it('a lost CURRENT: refused, and the store is not replaced by an empty one', async () => {
    const repo = await damaged('current-lost', async (store) => { await rm(join(store, 'CURRENT')) })
    const before = (await readdir(join(repo, 'store'))).filter(f => f.endsWith('.ldb')).sort()
    await refused(repo)
    assert.deepEqual((await readdir(join(repo, 'store'))).filter(f => f.endsWith('.ldb')).sort(), before, 'the table files are still there')
    assert.equal((await readdir(join(repo, 'store'))).includes('CURRENT'), false, 'no new store was made')
  })

  it('an unreadable repository marker (framehub.json)', async () => {
    for (const [name, text] of [['marker-garbled', '{garbage'], ['marker-empty', ''], ['marker-null', 'null']] as const) {
      const repo = await damaged(name, async () => {})
      await writeFile(join(repo, REPO_MARKER), text)
      await refused(repo)
    }
  })

  it('LevelDB\'s failures are recognised with and without a code (getSync throws them without one)', () => {
    assert.equal(isStoreFailure(Object.assign(new Error('Corruption: bad block'), { code: 'LEVEL_CORRUPTION' })), true)
    assert.equal(isStoreFailure(Object.assign(new Error('x'), { code: 'LEVEL_IO_ERROR' })), true)
    assert.equal(isStoreFailure(new Error('IO error: /x/000016.ldb: Invalid argument')), true)
    assert.equal(isStoreFailure(new Error('Corruption: checksum mismatch')), true)
    assert.equal(isStoreFailure(Object.assign(new Error('not found'), { code: 'LEVEL_NOT_FOUND' })), false)
    assert.equal(isStoreFailure(new TypeError('x is not a function')), false)
  })
})

describe('closing the store writes LevelDB\'s memory table out, unless that starts a compaction', () => {
  let dir: string
  let cleanup: () => Promise<void>
  before(async () => { ({ dir, cleanup } = await tempDir()) })
  after(async () => { await cleanup() })

  /** Bytes in the store's logs: what the next open would replay into a level-0 table. */
  const logged = async (path: string): Promise<number> => {
    let bytes = 0
    for (const f of await readdir(path)) if (f.endsWith('.log')) bytes += (await stat(join(path, f))).size
    return bytes
  }
  const level0 = (db: Level<string, Uint8Array>): number => Number((db as unknown as { getProperty: (p: string) => string }).getProperty('leveldb.num-files-at-level0'))

  it('a write through any sublevel is flushed at close; a close with no write flushes nothing', async () => {
    const path = join(dir, 'flush')
    let db = await openRepoDb(path)
    assert.equal(db.wrote, false)
    await db.helia.put('/a', new Uint8Array([1]))
    assert.equal(db.wrote, true)
    await db.close()
    assert.equal(await logged(path), 0, 'nothing left for the next open to replay')
    db = await openRepoDb(path, { create: false })
    assert.deepEqual([...(await db.helia.get('/a')) ?? []], [1])
    await db.close()
    assert.equal(db.wrote, false)
  })

  it('with 3 tables in level 0 the writes stay in the log (a fourth would start a compaction that close waits for)', async () => {
    const path = join(dir, 'level0')
    // Keys at both ends of the key space: each table overlaps the ones before, and once levels 1
    // and 2 hold one, the next ones stay in level 0.
    let tables = 0
    for (let round = 0; tables < 3; round++) {
      assert.ok(round < 10, `level 0 never reached 3 tables (${tables})`)
      const db = await openRepoDb(path)
      await db.state.put('a', new Uint8Array([round]))
      await db.index.put('z', new Uint8Array([round]))
      await db.close()
      assert.equal(await logged(path), 0, `round ${round}: flushed`)
      const raw = new Level<string, Uint8Array>(path, { valueEncoding: 'view' })
      await raw.open()
      tables = level0(raw)
      await raw.close()
    }
    const db = await openRepoDb(path)
    await db.state.put('a', new Uint8Array([99]))
    await db.close()
    assert.ok(await logged(path) > 0, 'left in the log')
    const again = await openRepoDb(path, { create: false })
    assert.deepEqual([...(await again.state.get('a')) ?? []], [99], 'and read back after the next open replays it')
    await again.close()
  })
})
