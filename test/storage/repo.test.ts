import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { chmod, mkdir, readdir, stat } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import { createNode, initNode } from '../../src/node.ts'
import { emptyTree } from '../../src/core/tree/index.ts'
import { blockKey } from '../../src/storage/level-db.ts'
import { EMPTY_TREE_BLOCK } from '../../src/storage/repo-create.ts'
import { CLI, runCli, tempDir } from '../helpers/repo.ts'

describe('the repository on disk', () => {
  let dir: string
  let cleanup: () => Promise<void>
  before(async () => { ({ dir, cleanup } = await tempDir()) })
  after(async () => { await cleanup() })

  it('`framehub init` makes the repository a node opens (its peer id, config, HEAD and the empty tree), and a command that only reads writes nothing', async () => {
    const empty = emptyTree()
    assert.equal(EMPTY_TREE_BLOCK.key, blockKey(empty.root))
    assert.deepEqual([...EMPTY_TREE_BLOCK.bytes], [...(empty.blocks[0]?.bytes ?? [])])
    const path = join(dir, 'made')
    const made = await runCli(['--repo', path, 'init', '--json'])
    assert.equal(made.code, 0, made.stderr)
    const { peerId, repo } = JSON.parse(made.stdout) as { peerId: string, repo: string }
    assert.equal(repo, path)
    // One open, its writes flushed at close: nothing for the next open to replay.
    const logged = async (): Promise<number> => {
      let bytes = 0
      for (const f of await readdir(join(path, 'store'))) if (f.endsWith('.log')) bytes += (await stat(join(path, 'store', f))).size
      return bytes
    }
    assert.equal(await logged(), 0)
    const db = new Level<string, Uint8Array>(join(path, 'store'), { valueEncoding: 'view' })
    await db.open()
    const stored = await db.keys().all()
    await db.close()
    assert.deepEqual(stored.sort(), [`!blocks!${EMPTY_TREE_BLOCK.key}`, '!state!HEAD', '!state!config', '!state!identity'])
    assert.equal(JSON.parse((await runCli(['--repo', path, 'init', '--json'])).stderr).code, 'ERR_REPO_EXISTS', 'a second init is refused')
    const node = await createNode({ repo: path })
    try {
      assert.equal(node.peerId, peerId)
      assert.equal(await node.refs.currentBranch(), 'main')
      assert.ok((await node.refs.workingTree('main')).equals(empty.root))
    } finally {
      await node.close()
    }
    // A write would be flushed at close into a table of its own.
    const tables = async (): Promise<number> => (await readdir(join(path, 'store'))).filter(f => f.endsWith('.ldb')).length
    const before = await tables()
    const read = await runCli(['--repo', path, 'branch', '--json'])
    assert.equal(read.code, 0, read.stderr)
    assert.equal(await tables(), before, 'listing the branches wrote nothing')
    assert.equal(await logged(), 0)
    // Nor did it write out an empty memory table at close (LevelDB's own log of this open).
    assert.doesNotMatch(readFileSync(join(path, 'store', 'LOG'), 'utf8'), /Manual compaction/)
  })

  it('a second process opening the same repo gets ERR_REPO_LOCKED', async () => {
    const path = join(dir, 'locked')
    const node = await initNode({ repo: path })
    try {
      const r = await runCli(['--repo', path, 'log', '--json'])
      assert.equal(r.code, 6)
      assert.equal(JSON.parse(r.stderr).code, 'ERR_REPO_LOCKED')
    } finally {
      await node.close()
    }
    assert.equal((await runCli(['--repo', path, 'branch', '--json'])).code, 0, 'the lock is released on close')
  })

  it('a corrupted block on disk is reported, never returned', async () => {
    const path = join(dir, 'corrupt')
    let node = await initNode({ repo: path })
    const put = await node.frames.put({ id: 'a', kind: 'fact', body: 'true' })
    await node.commits.commit({ message: 'c' })
    await node.close()
    const db = new Level<string, Uint8Array>(join(path, 'store'), { valueEncoding: 'view' })
    await db.open()
    const blocks = db.sublevel<string, Uint8Array>('blocks', { valueEncoding: 'view' })
    await blocks.put(blockKey(put.cid), new TextEncoder().encode('garbage'))
    await db.close()
    node = await createNode({ repo: path })
    try {
      await assert.rejects(node.frames.get('a'), { code: 'ERR_BLOCK_CORRUPT' })
      const report = await node.verifier.verify()
      assert.equal(report.ok, false)
      const corrupt = report.problems.filter(p => p.code === 'ERR_BLOCK_CORRUPT' && p.cid === put.cid.toString())
      assert.equal(corrupt.length, 1)
    } finally {
      await node.close()
    }
    const cli = await runCli(['--repo', path, 'verify', '--json'])
    assert.equal(cli.code, 5)
    assert.equal(cli.json.ok, false)
  })

  it('is the owner\'s only: the repository and its directories 0700, framehub\'s own files 0600, and no way in for others', async () => {
    const path = join(dir, 'private')
    const r = await runCli(['--repo', path, 'init', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777
    assert.equal(await mode(path), 0o700)
    assert.equal(await mode(join(path, 'store')), 0o700)
    assert.equal(await mode(join(path, 'framehub.json')), 0o600)
    // Opening makes the journal directory; the node's key and API token are in store/.
    const node = await createNode({ repo: path })
    try {
      assert.equal(await mode(join(path, 'journal')), 0o700)
      await node.traces.append('goal', { op: 'thought', content: 'private' }) // journal files: test/storage/journal.test.ts
    } finally {
      await node.close()
    }
    // Whatever LevelDB made with the umask sits behind 0700 directories: nothing under the
    // repository is reachable by group or others unless a 0700 directory is on the way.
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name)
        if (e.isDirectory()) { assert.equal(await mode(p) & 0o077, 0, `${p} is private`); await walk(p) }
      }
    }
    await walk(path)
  })

  it('an existing repository that others may enter is tightened to 0700 when opened', async () => {
    const path = join(dir, 'loose')
    await mkdir(path) // an empty directory made with the usual mode is fine to init into
    await chmod(path, 0o755)
    await (await initNode({ repo: path })).close()
    assert.equal((await stat(path)).mode & 0o777, 0o700, 'init makes an existing empty directory private')
    await chmod(path, 0o755)
    await chmod(join(path, 'store'), 0o775)
    const r = await runCli(['--repo', path, 'branch', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((await stat(path)).mode & 0o777, 0o700)
    assert.equal((await stat(join(path, 'store'))).mode & 0o777, 0o700)
  })

  it('killing an import half-way leaves the repository exactly as it was', async () => {
    const path = join(dir, 'killed')
    const node = await initNode({ repo: path })
    await node.frames.put({ id: 'keep/me', kind: 'fact', body: 1 })
    const before = await node.commits.commit({ message: 'before' })
    await node.frames.put({ id: 'staged', kind: 'fact', body: 2 })
    const workBefore = await node.refs.workingTree()
    await node.close()

    const file = join(dir, 'big.ndjson')
    const out = createWriteStream(file)
    for (let i = 0; i < 200_000; i++) out.write(JSON.stringify({ id: `bulk/${i}`, kind: 'fact', body: `frame number ${i} `.repeat(8) }) + '\n')
    await new Promise(resolve => out.end(resolve))

    const child = spawn(process.execPath, [CLI, '--repo', path, 'frame', 'import', file, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number | null>(resolve => child.on('close', resolve))
    let finished = false
    void exited.then(() => { finished = true })
    // Wait until the import has really written frame blocks (the store grows), then kill -9.
    const storeSize = async (): Promise<number> => {
      let size = 0
      for (const f of await readdir(join(path, 'store'))) {
        size += await stat(join(path, 'store', f)).then(s => s.size, () => 0) // LevelDB deletes files as it compacts
      }
      return size
    }
    const startSize = await storeSize()
    const deadline = Date.now() + 120_000
    while (!finished && Date.now() < deadline && await storeSize() < startSize + 8_000_000) await sleep(20)
    assert.equal(finished, false, 'the import was still running when it was killed')
    child.kill('SIGKILL')
    await exited

    const again = await createNode({ repo: path })
    try {
      assert.ok((await again.refs.branchHead('main'))?.equals(before.commit))
      assert.ok((await again.refs.workingTree()).equals(workBefore), 'staged state unchanged')
      const ids = (await Array.fromAsync(again.frames.list())).map(r => r.id)
      assert.deepEqual(ids, ['keep/me', 'staged'])
      assert.equal((await again.verifier.verify()).ok, true)
    } finally {
      await again.close()
    }
  })
})
