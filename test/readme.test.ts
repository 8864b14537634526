import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { it } from 'node:test'
import { CLI, tempDir } from './helpers/repo.ts'

it('the README walkthrough runs as written', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const block = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme)?.[1]
  assert.ok(block != null, 'README has a walkthrough block')
  const { dir, cleanup } = await tempDir()
  try {
    // `framehub` on PATH is this checkout's CLI, run by this Node.
    const bin = join(dir, 'bin')
    await mkdir(bin)
    await writeFile(join(bin, 'framehub'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`)
    await chmod(join(bin, 'framehub'), 0o755)
    const result = await new Promise<{ code: number | null, out: string }>((resolve) => {
      const child = spawn('bash', ['-euo', 'pipefail', '-c', block], {
        cwd: dir,
        env: { ...process.env, CI: 'true', PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let out = ''
      child.stdout.on('data', (c: Buffer) => { out += c.toString() })
      child.stderr.on('data', (c: Buffer) => { out += c.toString() })
      const timer = setTimeout(() => child.kill('SIGKILL'), 240_000)
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }) })
    })
    assert.equal(result.code, 0, result.out)
    assert.match(result.out, /fork/)
    assert.match(result.out, /route 3:/)
    assert.match(result.out, /ok: \d+ blocks under/)
  } finally {
    await cleanup()
  }
})

it('the README TypeScript example runs as written', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  assert.ok(block != null)
  const { dir, cleanup } = await tempDir()
  try {
    const entry = new URL('../src/index.ts', import.meta.url).pathname
    await writeFile(join(dir, 'example.ts'), block.replace('from \'framehub\'', `from '${entry}'`))
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['example.ts'], { cwd: dir, stdio: 'inherit' })
      child.on('close', resolve)
    })
    assert.equal(code, 0)
  } finally {
    await cleanup()
  }
})
