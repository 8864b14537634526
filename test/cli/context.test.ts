import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { withNode } from '../../src/cli/context.ts'
import { createNode } from '../../src/node.ts'
import { importPool } from '../../src/services/import-workers.ts'
import { seedRepo, startDaemonProcess } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'

describe('withNode', () => {
  it('runs beforeLocalOpen before it opens the repository in this process, and not when a daemon holds it', async () => {
    const { dir, cleanup } = await tempDir()
    const repo = join(dir, 'repo')
    try {
      await seedRepo(repo)
      const calls: string[] = []
      await withNode({ repo }, async (node) => {
        calls.push(`fn on ${(await node.refs.currentBranch())}`)
      }, {
        beforeLocalOpen: async () => {
          // The repository is not open yet: it can be opened (and its lock taken) here.
          const other = await createNode({ repo })
          await other.close()
          calls.push('hook')
        }
      })
      assert.deepEqual(calls, ['hook', 'fn on main'])

      const daemon = await startDaemonProcess(repo)
      try {
        await withNode({ repo }, async (node) => {
          calls.push(`remote fn on ${(await node.refs.currentBranch())}`)
        }, { beforeLocalOpen: () => { calls.push('hook with a daemon') } })
      } finally {
        await daemon.stop()
      }
      assert.deepEqual(calls, ['hook', 'fn on main', 'remote fn on main'])
    } finally {
      await cleanup()
    }
  })

  it('frame import of a file past the workers threshold stages the frames an in-process import stages', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      // Past importPool.thresholdBytes, the CLI starts the import workers before the node's modules load.
      const lines: string[] = []
      for (let i = 0, size = 0; size <= importPool.thresholdBytes + 65536; i++) {
        const line = JSON.stringify({ id: `big/${String(i).padStart(6, '0')}`, kind: 'note', title: `frame ${i}`, body: 'lorem ipsum '.repeat(30), tags: ['bulk', `t${i % 7}`] })
        lines.push(line)
        size += line.length + 1
      }
      const file = join(dir, 'big.ndjson')
      await writeFile(file, lines.join('\n') + '\n')
      const repo = join(dir, 'cli')
      assert.equal((await runCli(['--repo', repo, 'init', '--json'])).code, 0)
      const r = await runCli(['--repo', repo, 'frame', 'import', file, '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.json.frames, lines.length)

      const node = await createNode({ repo: join(dir, 'in-process'), create: true })
      try {
        const expected = await node.frames.import(lines)
        assert.equal(r.json.tree, expected.tree.toString())
      } finally {
        await node.close()
      }
      const got = await runCli(['--repo', repo, 'frame', 'get', 'big/000123', '--json'])
      assert.equal(got.code, 0, got.stderr)
      assert.equal(got.json.frame.title, 'frame 123')
    } finally {
      await cleanup()
    }
  })
})
