import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { appendFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createNode, initNode } from '../../src/node.ts'
import { openJournal } from '../../src/storage/journal.ts'
import { openRepoDb } from '../../src/storage/level-db.ts'
import { tempDir } from '../helpers/repo.ts'

const NODE = new URL('../../src/node.ts', import.meta.url).pathname

/** Runs a process that appends `steps` steps to `session` and kills itself at once; returns the last CID. */
async function appendAndDie (dir: string, repo: string, session: string, steps: number): Promise<string> {
  const script = join(dir, `append-and-die-${session}.ts`)
  writeFileSync(script, `
    import { createNode } from ${JSON.stringify(NODE)}
    const node = await createNode({ repo: ${JSON.stringify(repo)} })
    let last
    for (let i = 0; i < ${steps}; i++) last = await node.traces.append(${JSON.stringify(session)}, { op: 'thought', content: i })
    process.stdout.write(last.cid.toString())
    process.kill(process.pid, 'SIGKILL')
  `)
  return await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (c: Buffer) => { text += c.toString() })
    child.on('close', () => { resolve(text) })
  })
}

describe('the write-ahead journal of trace appends', () => {
  let dir: string
  let cleanup: () => Promise<void>
  before(async () => { ({ dir, cleanup } = await tempDir()) })
  after(async () => { await cleanup() })

  it('journal files are the owner\'s only (0600): they hold trace steps and state', async () => {
    const path = join(dir, 'modes')
    mkdirSync(join(path, 'journal'), { recursive: true })
    const db = await openRepoDb(join(path, 'store'))
    const journal = await openJournal(join(path, 'journal'), db)
    try {
      journal.append([{ type: 'put', sublevel: db.state, key: 'k', value: new Uint8Array([1]) }])
      const files = readdirSync(join(path, 'journal'))
      assert.equal(files.length, 1)
      for (const f of files) assert.equal(statSync(join(path, 'journal', f)).mode & 0o777, 0o600, f)
    } finally {
      await journal.close()
      await db.close()
    }
  })

  it('appended steps are readable at once, reach LevelDB, and leave no journal after close', async () => {
    const path = join(dir, 'plain')
    const node = await initNode({ repo: path })
    const a = await node.traces.append('goal', { op: 'thought', content: 1 })
    const b = await node.traces.append('goal', { op: 'thought', content: 2 })
    assert.deepEqual((await node.traces.heads('goal')).map(String), [b.cid.toString()])
    assert.equal((await node.commits.show(a.cid.toString())).type, 'trace-step')
    await node.repo.journal.flush()
    assert.ok(await node.repo.db.blocks.get((await import('../../src/storage/level-db.ts')).blockKey(b.cid)) != null, 'in LevelDB after a flush')
    const c = await node.commits.commit({ message: 'names the session' })
    assert.deepEqual(c.sessions.map(String), [b.cid.toString()])
    await node.close()
    assert.deepEqual(readdirSync(join(path, 'journal')), [])
    const again = await createNode({ repo: path })
    try {
      assert.equal((await Array.fromAsync(again.traces.show('goal'))).length, 2)
      assert.equal((await again.verifier.verify()).ok, true)
    } finally {
      await again.close()
    }
  })

  it('a process killed right after its appends loses none of them (the journal is replayed on open)', async () => {
    const path = join(dir, 'killed')
    const node = await initNode({ repo: path })
    await node.close()
    const out = await appendAndDie(dir, path, 'crash', 3000)
    assert.match(out, /^bafy/)
    const reopened = await createNode({ repo: path })
    try {
      assert.deepEqual((await reopened.traces.heads('crash')).map(String), [out])
      assert.equal((await Array.fromAsync(reopened.traces.show('crash'))).length, 3000)
      assert.equal((await reopened.verifier.verify(out)).ok, true)
      assert.deepEqual(readdirSync(join(path, 'journal')), [], 'replayed and removed')
    } finally {
      await reopened.close()
    }
  })

  it('a torn or corrupt journal tail is ignored, what came before it is kept', async () => {
    const path = join(dir, 'torn')
    let node = await initNode({ repo: path })
    await node.close()
    const out = await appendAndDie(dir, path, 'torn', 10)
    const files = readdirSync(join(path, 'journal'))
    assert.ok(files.length > 0, 'the killed process left a journal')
    appendFileSync(join(path, 'journal', files[files.length - 1] as string), Buffer.from([0x46, 0x4a, 0, 0, 0, 9, 1, 2, 3, 4, 5]))
    node = await createNode({ repo: path })
    try {
      assert.deepEqual((await node.traces.heads('torn')).map(String), [out])
      assert.equal((await node.verifier.verify(out)).ok, true)
    } finally {
      await node.close()
    }
  })
})
