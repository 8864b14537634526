import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
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

  // A regular file is read synchronously (input.ts); a FIFO is not: its reads wait for its writer.
  it('frame import of a FIFO reads it as its writer writes, and Ctrl-C stops it while it waits for the writer', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const repo = join(dir, 'repo')
      assert.equal((await runCli(['--repo', repo, 'init', '--json'])).code, 0)
      const fifo = join(dir, 'frames.fifo')
      execFileSync('mkfifo', [fifo])
      const imported = runCli(['--repo', repo, 'frame', 'import', fifo, '--json'], { timeoutMs: 60_000 })
      const writer = await open(fifo, 'w')
      await writer.write('{"id":"fifo/a","kind":"fact"}\n')
      await sleep(200)
      await writer.write('{"id":"fifo/b","kind":"fact"}\n')
      await writer.close()
      const r = await imported
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.json.frames, 2)

      const bin = fileURLToPath(new URL('../../bin/framehub.js', import.meta.url))
      const child = spawn(process.execPath, [bin, '--repo', repo, 'frame', 'import', fifo, '--json'], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] })
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
      const silent = await open(fifo, 'w')
      try {
        await silent.write('{"id":"fifo/c","kind":"fact"}\n')
        // The command has the line and waits for the next; the writer stays open and silent.
        await sleep(1000)
        child.kill('SIGINT')
        const stop = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
        const [code, signal] = await exited
        clearTimeout(stop)
        // Ctrl-C ends the command as it ends any: the import is all or nothing.
        assert.ok(signal === 'SIGINT' || code === 130, `ended by Ctrl-C, not by the 30 s SIGKILL (code ${String(code)}, signal ${String(signal)})`)
      } finally {
        await silent.close()
      }
      const ls = await runCli(['--repo', repo, 'frame', 'get', 'fifo/c', '--json'])
      assert.notEqual(ls.code, 0, 'an interrupted import stages nothing')
    } finally {
      await cleanup()
    }
  })
})
