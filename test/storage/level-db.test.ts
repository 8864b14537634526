import assert from 'node:assert/strict'
import { cp, readdir, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { Level } from 'level'
import { cidOf, RAW } from '../../src/core/cid.ts'
import { createNode, initNode } from '../../src/node.ts'
import { blockKey, blockKeyReference, isStoreFailure } from '../../src/storage/level-db.ts'
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
