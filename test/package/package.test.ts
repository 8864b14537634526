import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { olderNode } from '../../scripts/older-node.ts'
import { tempDir } from '../helpers/repo.ts'

// The installable package as a user gets it: `npm pack` in this checkout (its `prepack` builds
// dist/), the tarball installed into a fresh project, used there as plain JavaScript.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PKG = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string, devDependencies: Record<string, string> }
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc')

/** This process's environment without npm's `npm_*` variables (an `npm test` parent sets the checkout's prefix and package there), and this Node first on PATH. */
function childEnv (extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v != null && !k.toLowerCase().startsWith('npm_')) env[k] = v
  return { ...env, CI: 'true', PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, ...extra }
}

interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs a command to its end, its whole process group killed after `timeoutMs`. */
async function run (command: string, args: string[], options: { cwd: string, timeoutMs: number, env?: Record<string, string> }): Promise<Run> {
  const child = spawn(command, args, { cwd: options.cwd, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch {} }, options.timeoutMs)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (c, s) => { resolve([c, s]) })
  }).finally(() => { clearTimeout(timer) })
  return { code, signal, stdout, stderr }
}

function ok (r: Run, what: string): void {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code ?? r.signal}):\n${r.stdout}\n${r.stderr}`)
}

describe('the npm package', { timeout: 900_000 }, () => {
  let dir = ''
  let cleanup = async (): Promise<void> => {}
  let app = ''
  let packed: { filename: string, size: number, unpackedSize: number, files: Array<{ path: string }> }

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-package-'))
    const pack = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, timeoutMs: 240_000 })
    ok(pack, 'npm pack')
    packed = (JSON.parse(pack.stdout) as Array<typeof packed>)[0]!
    app = join(dir, 'app')
    await mkdir(app)
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'framehub-package-check', private: true, type: 'module' }, null, 2))
    // As the README advises: no react-native peer tree under @libp2p/webrtc.
    await writeFile(join(app, '.npmrc'), 'legacy-peer-deps=true\n')
    // Everything the tarball depends on is in npm's cache from this checkout's own install.
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed.filename), `@types/node@${PKG.devDependencies['@types/node']}`], { cwd: app, timeoutMs: 300_000 })
    ok(install, 'npm install of the tarball')
  }, { timeout: 600_000 })

  after(async () => { await cleanup() })

  /**
   * Compiles the README's TypeScript example against the package's declarations and runs it as
   * JavaScript, once for the file: its test checks that, the daemon's test serves what it wrote.
   */
  let example: Promise<void> | undefined
  const runExample = async (): Promise<void> => {
    example ??= (async () => {
      const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
      const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
      assert.ok(block != null && block.includes('from \'framehub\''), 'README has a TypeScript example importing framehub')
      await writeFile(join(app, 'example.ts'), block)
      // Full checking, the package's declarations included (skipLibCheck off).
      await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2024', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' },
        include: ['example.ts']
      }, null, 2))
      ok(await run(process.execPath, [TSC, '-p', app], { cwd: app, timeoutMs: 180_000 }), 'tsc on the example')
      // No type stripping: only the package's JavaScript can run.
      ok(await run(process.execPath, ['--no-experimental-strip-types', join('out', 'example.js')], { cwd: app, timeoutMs: 120_000 }), 'the compiled example')
    })()
    await example
  }

  it('ships compiled JavaScript, declarations, the bin and the schemas, and no sources or tests', () => {
    const files = packed.files.map(f => f.path)
    for (const f of ['package.json', 'README.md', 'bin/framehub.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js',
      'dist/core/schema-validators.js', 'dist/core/schema-validators.d.ts', 'dist/services/import-worker.js', 'schemas/frame.schema.json',
      'ui/index.html', 'ui/app.js']) {
      assert.ok(files.includes(f), `${f} is in the package`)
    }
    assert.deepEqual(files.filter(f => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('scripts/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), [])
  })

  it('declarations and modules import each other as .js', async () => {
    for (const f of ['dist/index.d.ts', 'dist/node.d.ts', 'dist/core/schema-validators.js']) {
      const text = await readFile(join(app, 'node_modules', 'framehub', f), 'utf8')
      assert.doesNotMatch(text, /from '\.{1,2}\/[^']*(?<!\.d)\.ts'/, f)
      assert.match(text, /from '\.{1,2}\/[^']*\.js'/, f)
    }
  })

  it("the README's TypeScript example compiles against the package's declarations and runs as JavaScript", { timeout: 360_000 }, async () => {
    await runExample()
  })

  it('npx framehub --version prints the version', async () => {
    // `--no`: the installed bin or nothing, never a package of that name from the registry.
    const r = await run('npx', ['--no', '--', 'framehub', '--version'], { cwd: app, timeoutMs: 60_000 })
    ok(r, 'npx framehub --version')
    assert.equal(r.stdout.trim(), PKG.version)
  })

  it('the installed CLI writes and reads a repository, and its daemon serves the example\'s frame', { timeout: 600_000 }, async () => {
    await runExample()
    const bin = join(app, 'node_modules', '.bin', 'framehub')
    const repo = join(app, 'cli-repo')
    ok(await run(bin, ['--repo', repo, 'init'], { cwd: app, timeoutMs: 60_000 }), 'framehub init')
    const put = await run('sh', ['-c', `echo '{"id":"notes/a","kind":"note","body":"hi"}' | "${bin}" --repo "${repo}" frame put -`], { cwd: app, timeoutMs: 60_000 })
    ok(put, 'framehub frame put')
    assert.match(put.stdout, /^baf[a-z2-7]+\s*$/)
    const bad = await run('sh', ['-c', `echo 'not json' | "${bin}" --repo "${repo}" frame put -`], { cwd: app, timeoutMs: 60_000 })
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /ERR_[A-Z_]+/)

    // The example's repository, served by the installed daemon (the HTTP layer and its schemas from the package).
    const child = spawn(bin, ['--repo', join(app, 'agent-memory'), 'daemon', '--api', '127.0.0.1:0', '--json', '--log-level', 'warn'], {
      cwd: app, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe']
    })
    const exited = new Promise<number | null>(resolve => child.once('exit', (code) => { resolve(code) }))
    try {
      let out = ''
      let err = ''
      child.stderr.on('data', (c: Buffer) => { err += c.toString() })
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`the daemon did not start within 120 s: ${err}`)) }, 120_000)
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString()
          const line = out.split('\n').find(l => l.startsWith('{') && l.includes('"url"') && l.endsWith('}'))
          if (line != null) { clearTimeout(timer); resolve((JSON.parse(line) as { url: string }).url) }
        })
        void exited.then((code) => { clearTimeout(timer); reject(new Error(`the daemon exited with ${code}: ${err}`)) })
      })
      const frame = await fetch(`${url}/api/v1/frames/by-id/plans/today`, { signal: AbortSignal.timeout(30_000) })
      assert.equal(frame.status, 200)
      assert.match(await frame.text(), /"kind":"plan"/)
      const missing = await fetch(`${url}/api/v1/frames/by-id/plans/none`, { signal: AbortSignal.timeout(30_000) })
      assert.equal(missing.status, 404)
      assert.match(((await missing.json()) as { code: string }).code, /^ERR_/)
      const docs = await fetch(`${url}/docs/json`, { signal: AbortSignal.timeout(30_000) })
      assert.equal(docs.status, 200)
      assert.ok(((await docs.json()) as { openapi?: string }).openapi != null)
      // The explorer: its page from the package's ui/, its graph library from the installed dependency.
      const page = await fetch(`${url}/ui`, { signal: AbortSignal.timeout(30_000) })
      assert.equal(page.status, 200)
      assert.match(await page.text(), /<script type="module" src="\/ui\/app.js">/)
      const lib = await fetch(`${url}/ui/vendor/cytoscape.mjs`, { signal: AbortSignal.timeout(30_000) })
      assert.equal(lib.status, 200)
      assert.match(lib.headers.get('content-type') ?? '', /^text\/javascript/)
    } finally {
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
      await exited
      clearTimeout(timer)
    }
  })

  it('big imports load their worker thread from the package', async () => {
    // The worker's entry is found beside the compiled module (dist/services/import-worker-start.js, then import-worker.js).
    const script = `
      const w = await import(${JSON.stringify(join(app, 'node_modules', 'framehub', 'dist', 'services', 'import-workers.js'))})
      Object.assign(w.importPool, { maxLoad: Infinity, workers: 1, threshold: 0 })
      w.startImportPool()
      const deadline = Date.now() + 60000
      while (w.importPoolReady() < 1 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20))
      const run = w.encodeRun([JSON.stringify({ id: 'a', kind: 'note', body: 'x' })], 1, 'check')
      const frames = await run
      console.log(JSON.stringify({ onWorker: run instanceof Promise, runs: w.importPoolRuns(), ids: frames.ids }))
      await w.stopImportPool()`
    const r = await run(process.execPath, ['--no-experimental-strip-types', '--input-type=module', '-e', script], { cwd: app, timeoutMs: 90_000 })
    ok(r, 'the worker check')
    assert.deepEqual(JSON.parse(r.stdout), { onWorker: true, runs: 1, ids: ['a'] })
  })

  it('the installed bin refuses a Node older than 22.19 with a clear message', async (t) => {
    // A system Node older than 22.18, if any (older still than the package's 22.19).
    const old = olderNode()
    if (old == null) {
      t.skip('no Node older than 22.18 on this machine')
      return
    }
    const r = await run(old, [join(app, 'node_modules', 'framehub', 'bin', 'framehub.js'), '--version'], { cwd: app, timeoutMs: 30_000 })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /framehub needs Node >= 22\.19 \(this is v/)
  })
})
