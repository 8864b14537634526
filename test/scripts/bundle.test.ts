import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { bundle, bundleIsFresh } from '../../scripts/bundle.ts'
import { importPool } from '../../src/services/import-workers.ts'
import { runCli, tempDir } from '../helpers/repo.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** `node FILE ARGS`, its exit code and output. */
async function run (file: string, args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  const merged: NodeJS.ProcessEnv = { ...process.env, CI: 'true', ...env }
  for (const [key, value] of Object.entries(merged)) if (value === undefined) Reflect.deleteProperty(merged, key)
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }) })
  })
}

describe('the bundled CLI (scripts/bundle.ts)', () => {
  // Inside the checkout: the packages left out of the bundle resolve from its node_modules.
  const outdir = join(root, 'node_modules', '.cache', 'framehub', `bundle-test-${process.pid}`)
  let dir: string
  let cleanup: () => Promise<void>
  before(async () => {
    ({ dir, cleanup } = await tempDir())
    await bundle(outdir)
  })
  after(async () => {
    await cleanup()
    await rm(outdir, { recursive: true, force: true })
  })

  it('answers as the sources do: init, frame import (on the import workers), commit, log, frame get, branch, --help', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ id: `b/${i}`, kind: 'fact', title: `frame ${i}`, body: 'x'.repeat(200) }))
    const file = join(dir, 'frames.ndjson')
    writeFileSync(file, lines.join('\n') + '\n')
    const results: Array<Record<string, unknown>> = []
    for (const via of ['bundle', 'sources']) {
      const repo = join(dir, via)
      const cli = async (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> =>
        via === 'bundle' ? await run(join(outdir, 'cli.js'), ['--repo', repo, ...args]) : await runCli(['--repo', repo, ...args])
      const out: Record<string, unknown> = {}
      for (const [name, args] of [['init', ['init', '--json']], ['import', ['frame', 'import', file, '--json']], ['commit', ['commit', '-m', 'bundled', '--json']], ['log', ['log', '--json']], ['get', ['frame', 'get', 'b/7', '--json']], ['branch', ['branch', '--json']]] as const) {
        const r = await cli([...args])
        assert.equal(r.code, 0, `${via} ${name}: ${r.stderr}`)
        out[name] = JSON.parse(r.stdout)
      }
      const help = await cli(['--help'])
      assert.equal(help.code, 0)
      out.help = help.stdout
      results.push(out)
    }
    const [bundled, sources] = results as [Record<string, any>, Record<string, any>]
    assert.deepEqual(bundled.import, sources.import)
    assert.equal(bundled.commit.tree, sources.commit.tree)
    assert.equal(bundled.log[0].tree, sources.log[0].tree)
    assert.deepEqual(bundled.get, sources.get)
    // Commits differ (each repository signs with its own key, at its own time); the rest is the same.
    assert.equal(bundled.branch.branches[0].commit, bundled.commit.commit)
    assert.deepEqual({ ...bundled.branch, branches: bundled.branch.branches.map((b: object) => ({ ...b, commit: '' })) }, { ...sources.branch, branches: sources.branch.branches.map((b: object) => ({ ...b, commit: '' })) })
    assert.equal(bundled.help, sources.help)
  })

  it('a big import runs the bundle on its worker thread too: no source module loads on any thread', async () => {
    const lines: string[] = []
    for (let i = 0, size = 0; size <= importPool.thresholdBytes + 65536; i++) {
      const line = JSON.stringify({ id: `w/${i}`, kind: 'fact', title: `frame ${i}`, body: 'x'.repeat(200) })
      lines.push(line)
      size += line.length + 1
    }
    const file = join(dir, 'worker-frames.ndjson')
    writeFileSync(file, lines.join('\n') + '\n')
    const repo = join(dir, 'worker-repo')
    assert.equal((await run(join(outdir, 'cli.js'), ['--repo', repo, 'init', '--json'])).code, 0)
    // Node writes a CPU profile for each thread: the modules each one ran are named in it.
    const profiles = join(dir, 'profiles')
    // One worker, whatever the load (the suite's other tests keep the cores busy).
    const r = await run(join(outdir, 'cli.js'), ['--repo', repo, 'frame', 'import', file, '--json'], { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profiles}`, FRAMEHUB_IMPORT_WORKERS: '1' })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).frames, lines.length)
    const urls = readdirSync(profiles).map(name => {
      const profile = JSON.parse(readFileSync(join(profiles, name), 'utf8')) as { nodes: Array<{ callFrame: { url: string } }> }
      return new Set(profile.nodes.map(n => n.callFrame.url).filter(u => u.startsWith('file:')))
    })
    assert.equal(urls.length, 2, 'the main thread and one import worker')
    const worker = urls.find(u => [...u].some(url => url.endsWith('/import-worker.js')))
    assert.ok(worker !== undefined, 'the worker ran the bundle\'s import-worker.js')
    for (const thread of urls) {
      assert.deepEqual([...thread].filter(url => url.includes('/src/')), [], 'no source module ran')
    }
  })

  it('opens a repository with no CommonJS module from node_modules: classic-level is in the bundle, its native addon required as it is', async () => {
    const r = await run(join(outdir, 'cli.js'), ['--repo', join(dir, 'cjs-repo'), 'init', '--json'], { NODE_DEBUG: 'module' })
    assert.equal(r.code, 0, r.stderr)
    const loaded = [...r.stderr.matchAll(/: load "([^"]+)" for module/g)].map(m => m[1] as string)
    assert.deepEqual(loaded.filter(path => !path.endsWith('.node')), [])
    assert.equal(loaded.filter(path => /classic-level[\\/]prebuilds[\\/].+\.node$/.test(path)).length, 1, 'the addon node-gyp-build finds')
    const inputs = JSON.parse(readFileSync(join(outdir, 'inputs.json'), 'utf8')) as Record<string, number>
    assert.ok(Object.keys(inputs).some(path => path.endsWith('.node')), 'a new addon (npm install) makes the bundle stale')
  })

  it('a second run takes its modules from the compile cache', async () => {
    const env = { NODE_DEBUG_NATIVE: 'COMPILE_CACHE', NODE_COMPILE_CACHE: undefined, FRAMEHUB_COMPILE_CACHE: undefined }
    await run(join(outdir, 'cli.js'), ['--help'], env)
    const { stderr } = await run(join(outdir, 'cli.js'), ['--help'], env)
    assert.match(stderr, new RegExp(`V8 code cache for ESM file://\\S+/bundle-test-${process.pid}/\\S+\\.js was accepted`))
  })

  it('lists what it was made of: the CLI, node.ts and each service it loads; fresh while they are unchanged', () => {
    const inputs = JSON.parse(readFileSync(join(outdir, 'inputs.json'), 'utf8')) as Record<string, number>
    for (const path of ['src/cli/main.ts', 'src/node.ts', 'src/services/commits.ts', 'src/services/frames.ts', 'package.json']) {
      assert.equal(inputs[path], statSync(join(root, path)).mtimeMs, path)
    }
    assert.equal(bundleIsFresh(outdir), true)
    // As if src/node.ts had been edited since.
    writeFileSync(join(outdir, 'inputs.json'), JSON.stringify({ ...inputs, 'src/node.ts': (inputs['src/node.ts'] as number) - 1 }))
    assert.equal(bundleIsFresh(outdir), false)
    writeFileSync(join(outdir, 'inputs.json'), JSON.stringify(inputs))
    assert.equal(bundleIsFresh(outdir), true)
  })
})

describe('bin/framehub.js runs the bundle only while it is fresh', () => {
  let dir: string
  let cleanup: () => Promise<void>
  before(async () => { ({ dir, cleanup } = await tempDir()) })
  after(async () => { await cleanup() })

  it('the bundle while every file it was made of is unchanged, else the sources; FRAMEHUB_BUNDLE=0 the sources', async () => {
    // A checkout of its own: the real bin/framehub.js, a source CLI and a bundle that say which they are.
    mkdirSync(join(dir, 'bin'))
    cpSync(join(root, 'bin', 'framehub.js'), join(dir, 'bin', 'framehub.js'))
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
    mkdirSync(join(dir, 'src', 'cli'), { recursive: true })
    writeFileSync(join(dir, 'src', 'cli', 'main.ts'), "process.stdout.write('sources')\n")
    const bundleDir = join(dir, 'node_modules', '.cache', 'framehub', 'bundle')
    mkdirSync(bundleDir, { recursive: true })
    writeFileSync(join(bundleDir, 'cli.js'), "process.stdout.write('bundle')\n")
    const inputs = { 'src/cli/main.ts': statSync(join(dir, 'src', 'cli', 'main.ts')).mtimeMs, 'package.json': statSync(join(dir, 'package.json')).mtimeMs }
    writeFileSync(join(bundleDir, 'inputs.json'), JSON.stringify(inputs))
    const which = async (env: Record<string, string> = {}): Promise<string> => (await run(join(dir, 'bin', 'framehub.js'), [], env)).stdout
    assert.equal(await which(), 'bundle')
    assert.equal(await which({ FRAMEHUB_BUNDLE: '0' }), 'sources')
    // An edited source.
    const later = new Date(Date.now() + 5000)
    utimesSync(join(dir, 'src', 'cli', 'main.ts'), later, later)
    assert.equal(await which(), 'sources')
    // A source it was made of that is gone.
    writeFileSync(join(bundleDir, 'inputs.json'), JSON.stringify({ ...inputs, 'src/cli/gone.ts': 1 }))
    assert.equal(await which(), 'sources')
    // No list at all.
    await rm(join(bundleDir, 'inputs.json'))
    assert.equal(await which(), 'sources')
  })
})
