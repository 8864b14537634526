import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import { mergeWithFork, seedRepo, startDaemonProcess } from '../helpers/daemon.ts'
import type { DaemonProcess, Seed } from '../helpers/daemon.ts'
import { CLI, runCli, tempDir } from '../helpers/repo.ts'
import type { CliResult } from '../helpers/repo.ts'

const START_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 15_000

/** The structure of a JSON value (keys in order, types of leaves), to compare outputs whose CIDs and times differ. */
function shape (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape)
  if (value !== null && typeof value === 'object') return Object.entries(value).map(([k, v]) => [k, shape(v)])
  return value === null ? 'null' : typeof value
}

async function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: no result within ${ms} ms`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

const GRAVITY = { id: 'physics/gravity', kind: 'fact', title: 'Gravity', body: '9.81', tags: ['physics'] }
const NOTE = 'measured on earth'
const BULK = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `bulk/${String(i).padStart(2, '0')}`, kind: i % 2 === 0 ? 'fact' : 'note', body: i }))

// What a repository holds when a test starts, each written in-process by the node's services (the
// same steps the tests before it take through the CLI), so that every test can run alone.

/** Gravity with its attachment and the 50 bulk frames, staged (what the "frames" test writes). */
const framesSeed: Seed = async (node) => {
  await node.frames.put(GRAVITY, { source: 'g.json', attach: [{ name: 'note.txt', bytes: new TextEncoder().encode(NOTE) }] })
  await node.frames.import(BULK)
}

/** And the history of the "commit" test: main, with branch exp merged into it and a fork kept. */
const historySeed: Seed = async (node) => {
  await framesSeed(node)
  await node.commits.commit({ message: 'first' })
  await mergeWithFork(node)
}

/** And the reasoning of the "trace" test: session tides (a goal, three routes, a join of two), committed. */
const reasoningSeed: Seed = async (node) => {
  await historySeed(node)
  const goal = await node.traces.append('tides', { op: 'thought', content: 'goal' })
  const routes = []
  for (const n of [1, 2, 3]) routes.push((await node.traces.append('tides', { op: 'action', content: `route ${n}` }, { parents: [goal.cid] })).cid)
  await node.traces.append('tides', { op: 'conclusion', content: 'join' }, { parents: routes.slice(0, 2) })
  await node.commits.commit({ message: 'with reasoning' })
}

/**
 * A fresh temp directory (the CLI's working directory, with its input files) holding repository
 * `remote`, which a daemon serves, and repository `local`, which each CLI command opens
 * in-process; `seed` writes both alike first. Without a seed, `remote` is left for its daemon to
 * create on first start and `local` is a new empty repository.
 */
interface Workspace {
  dir: string
  remoteRepo: string
  localRepo: string
  onRemote: (args: string[], input?: string) => Promise<CliResult>
  onLocal: (args: string[], input?: string) => Promise<CliResult>
  /** Runs the same command through the daemon and on the local repo: same exit code, same --json shape. */
  both: (args: string[], input?: string) => Promise<{ remote: CliResult, local: CliResult }>
  /** Starts `framehub --repo remote daemon --api 127.0.0.1:0 --json`, as `npm start` would, and waits for its address line. */
  startDaemon: () => Promise<DaemonProcess>
  /** Starts `framehub --repo REPO daemon …args` without waiting for it to be ready (one expected to refuse). */
  spawnDaemon: (repo: string, args: string[]) => { exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>, stdout: () => string, stderr: () => string }
  /** Kills every daemon it started and removes the directory. */
  close: () => Promise<void>
}

async function workspace (seed?: Seed): Promise<Workspace> {
  const { dir, cleanup } = await tempDir('framehub-daemon-')
  const remoteRepo = join(dir, 'remote')
  const localRepo = join(dir, 'local')
  await writeFile(join(dir, 'g.json'), JSON.stringify(GRAVITY))
  await writeFile(join(dir, 'note.txt'), NOTE)
  await writeFile(join(dir, 'frames.ndjson'), BULK.join('\n') + '\n')
  await Promise.all([seed != null ? seedRepo(remoteRepo, seed) : undefined, seedRepo(localRepo, seed)])
  const kills: Array<() => Promise<void>> = []
  const onRemote = async (args: string[], input?: string): Promise<CliResult> => await runCli(['--repo', remoteRepo, ...args], { input, cwd: dir })
  const onLocal = async (args: string[], input?: string): Promise<CliResult> => await runCli(['--repo', localRepo, ...args], { input, cwd: dir })
  return {
    dir,
    remoteRepo,
    localRepo,
    onRemote,
    onLocal,
    both: async (args, input) => {
      const [remote, local] = await Promise.all([onRemote([...args, '--json'], input), onLocal([...args, '--json'], input)])
      assert.equal(remote.code, local.code, `${args.join(' ')}: exit ${remote.code} through the daemon, ${local.code} locally\n${remote.stderr}\n${local.stderr}`)
      assert.equal(remote.code, 0, `${args.join(' ')}: ${remote.stderr}`)
      assert.deepEqual(shape(remote.json), shape(local.json), `${args.join(' ')}: --json shapes differ\n${remote.stdout}\n${local.stdout}`)
      return { remote, local }
    },
    startDaemon: async () => {
      const d = await startDaemonProcess(remoteRepo, [], { cwd: dir, timeoutMs: START_TIMEOUT_MS })
      kills.push(d.kill)
      return d
    },
    spawnDaemon: (repo, args) => {
      const child = spawn(process.execPath, [CLI, '--repo', repo, 'daemon', ...args], { cwd: dir, env: { ...process.env, CI: 'true' } })
      const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
      kills.push(async () => { if (child.exitCode == null && child.signalCode == null) { child.kill('SIGKILL'); await exited } })
      let out = ''
      let err = ''
      child.stdout.on('data', (c: Buffer) => { out += c.toString() })
      child.stderr.on('data', (c: Buffer) => { err += c.toString() })
      return { exited, stdout: () => out, stderr: () => err }
    },
    close: async () => {
      await Promise.all(kills.map(async kill => { await kill() }))
      await cleanup()
    }
  }
}

/** A workspace for one test, closed when the test ends. */
async function workspaceFor (t: TestContext, seed?: Seed): Promise<Workspace> {
  const w = await workspace(seed)
  t.after(async () => { await w.close() })
  return w
}

// Some 80 CLI processes in sequence: give the suite room on a busy machine (each step has its own
// bound). Each test starts from a repository of its own (see the seeds), so any one runs alone.
describe('framehub daemon (real process) with the real CLI going through its API', { timeout: 600_000 }, () => {
  it('starts on a fresh repository (created on first start), prints its address and records it in the repo', async (t) => {
    const { dir, cleanup } = await tempDir('framehub-daemon-')
    const remoteRepo = join(dir, 'remote')
    const localRepo = join(dir, 'local')
    const daemon = await startDaemonProcess(remoteRepo, [], { cwd: dir, timeoutMs: START_TIMEOUT_MS })
    t.after(async () => { await daemon.kill(); await cleanup() })
    assert.match(daemon.info.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.match(daemon.info.peerId, /^12D3KooW/)
    assert.equal(daemon.info.repo, remoteRepo)
    const file = join(remoteRepo, 'api.json')
    const recorded = JSON.parse(await readFile(file, 'utf8'))
    assert.deepEqual(Object.keys(recorded).sort(), ['pid', 'token', 'url'])
    assert.equal(recorded.url, daemon.info.url)
    assert.equal(recorded.pid, daemon.child.pid)
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'api.json holds the token: owner only')
    const health = await fetch(`${daemon.info.url}/health`)
    assert.equal(health.status, 200)
    assert.equal((await health.json() as { peerId: string }).peerId, daemon.info.peerId)
    // The token is the one the gateway wants.
    const denied = await fetch(`${daemon.info.url}/api/v1/commits`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message":"x"}' })
    assert.equal(denied.status, 401)
    const allowed = await fetch(`${daemon.info.url}/api/v1/commits`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${recorded.token as string}` }, body: '{"message":"x"}' })
    assert.equal(allowed.status, 409, 'authenticated, and there is nothing to commit yet')

    const local = await runCli(['--repo', localRepo, 'init', '--json'])
    assert.equal(local.code, 0, local.stderr)
  })

  it('frames: put with --attach, get, import, ls, diff: same output as a local repo', async (t) => {
    const { both, startDaemon } = await workspaceFor(t)
    await startDaemon()
    const put = await both(['frame', 'put', 'g.json', '--attach', 'note.txt'])
    // Frames are content only: the same CID on both repositories.
    assert.deepEqual(put.remote.json, put.local.json)
    const got = await both(['frame', 'get', 'physics/gravity'])
    assert.deepEqual(got.remote.json, got.local.json)
    assert.equal(got.remote.json.frame.attachments[0].type, 'text/plain')
    assert.equal(got.remote.json.frame.attachments[0].size, 17)
    const byCid = await both(['frame', 'get', put.remote.json.cid])
    assert.deepEqual(byCid.remote.json, got.remote.json)

    const imported = await both(['frame', 'import', 'frames.ndjson'])
    assert.deepEqual(imported.remote.json, imported.local.json)
    assert.equal(imported.remote.json.frames, 50)
    const fromStdin = await both(['frame', 'import', '-'], JSON.stringify({ id: 'bulk/stdin', kind: 'fact' }) + '\n')
    assert.deepEqual(fromStdin.remote.json, fromStdin.local.json)

    const ls = await both(['frame', 'ls', '--kind', 'note', '--prefix', 'bulk/', '--limit', '3'])
    assert.deepEqual(ls.remote.json, ls.local.json)
    assert.deepEqual(ls.remote.json.map((f: { id: string }) => f.id), ['bulk/01', 'bulk/03', 'bulk/05'])
    const all = await both(['frame', 'ls'])
    assert.equal(all.remote.json.length, 52)
    // No commit yet: diff is from the empty HEAD to the working tree.
    const diff = await both(['diff'])
    assert.deepEqual(diff.remote.json, diff.local.json)
    assert.equal(diff.remote.json.added.length, 52)
    const rm = await both(['frame', 'rm', 'bulk/stdin'])
    assert.deepEqual(rm.remote.json, rm.local.json)
  })

  it('commit, log, show, branch, checkout, merge with a fork, forks', async (t) => {
    const { both, onRemote, onLocal, startDaemon } = await workspaceFor(t, framesSeed)
    const daemon = await startDaemon()
    const first = await both(['commit', '-m', 'first'])
    assert.equal(first.remote.json.tree, first.local.json.tree, 'same frames, same tree')
    const nothing = await Promise.all([onRemote(['commit', '-m', 'again', '--json']), onLocal(['commit', '-m', 'again', '--json'])])
    for (const r of nothing) {
      assert.equal(r.code, 1)
      assert.equal(JSON.parse(r.stderr).code, 'ERR_NOTHING_TO_COMMIT')
    }
    const log = await both(['log'])
    assert.equal(log.remote.json[0].commit, first.remote.json.commit)
    assert.equal(log.remote.json[0].author, daemon.info.peerId, 'the daemon signed it')
    const show = await both(['show', 'HEAD'])
    assert.equal(show.remote.json.type, 'commit')
    await both(['branch'])

    await both(['checkout', '-b', 'exp'])
    await both(['frame', 'put', '-'], JSON.stringify({ id: 'physics/gravity', kind: 'fact', body: 'theirs' }))
    await both(['frame', 'put', '-'], JSON.stringify({ id: 'chem/water', kind: 'fact', body: 'H2O' }))
    await both(['commit', '-m', 'exp'])
    await both(['checkout', 'main'])
    const ours = await both(['frame', 'put', '-'], JSON.stringify({ id: 'physics/gravity', kind: 'fact', body: 'ours' }))
    const staged = await both(['diff'])
    assert.deepEqual(staged.remote.json.changed.map((c: { id: string }) => c.id), ['physics/gravity'])
    await both(['commit', '-m', 'main'])
    const branches = await both(['branch'])
    assert.equal(branches.remote.json.current, 'main')
    assert.deepEqual(branches.remote.json.branches.map((b: { name: string }) => b.name), ['exp', 'main'])

    const merge = await both(['merge', 'exp'])
    assert.equal(merge.remote.json.mode, 'merge')
    assert.deepEqual(Object.keys(merge.remote.json.forks[0]), ['id', 'ours', 'theirs'])
    assert.equal(merge.remote.json.forks[0].ours, ours.remote.json.cid)
    const forks = await both(['forks'])
    assert.equal(forks.remote.json[0].theirs, merge.remote.json.forks[0].theirs)
    const gravity = await both(['frame', 'get', 'physics/gravity', '--ref', 'main'])
    assert.equal(gravity.remote.json.frame.body, 'ours')
    const twoCommits = await both(['diff', 'HEAD~1', 'HEAD'])
    assert.deepEqual(twoCommits.remote.json.added.map((c: { id: string }) => c.id), ['chem/water'])
    const limited = await both(['log', '-n', '2'])
    assert.equal(limited.remote.json.length, 2)

    const created = await both(['branch', 'topic/x'])
    assert.equal(created.remote.json.name, 'topic/x')
    await both(['branch', '-d', 'topic/x'])
    const verify = await both(['verify'])
    assert.equal(verify.remote.json.ok, true)
  })

  it('trace append (three routes and a merge), show, heads, routes, ls', async (t) => {
    const { both, onRemote, onLocal, startDaemon } = await workspaceFor(t, historySeed)
    const daemon = await startDaemon()
    const step = (op: string, content: string): string => JSON.stringify({ op, content })
    const run = async (cli: typeof onRemote): Promise<Record<string, CliResult>> => {
      const goal = await cli(['trace', 'append', '-s', 'tides', '-', '--json'], step('thought', 'goal'))
      const a = goal.json.cid as string
      const routes: string[] = []
      for (const n of [1, 2, 3]) routes.push((await cli(['trace', 'append', '-s', 'tides', '--parent', a, '-', '--json'], step('action', `route ${n}`))).json.cid)
      const merged = await cli(['trace', 'append', '-s', 'tides', '-p', routes[0] as string, '-p', routes[1] as string, '-', '--json'], step('conclusion', 'join'))
      // One at a time: a local repository is opened by one process at a time.
      const show = await cli(['trace', 'show', 'tides', '--json'])
      const heads = await cli(['trace', 'heads', 'tides', '--json'])
      const routesOut = await cli(['trace', 'routes', 'tides', '--json'])
      const ls = await cli(['trace', 'ls', '--json'])
      return { goal, merged, show, heads, routes: routesOut, ls }
    }
    const [remote, local] = await Promise.all([run(onRemote), run(onLocal)])
    for (const [name, r] of Object.entries(remote)) {
      assert.equal(r.code, 0, `${name}: ${r.stderr}`)
      assert.deepEqual(shape(r.json), shape(local[name]?.json), `${name}: --json shapes differ\n${r.stdout}\n${local[name]?.stdout ?? ''}`)
    }
    assert.equal(remote.show?.json.length, 5)
    assert.equal(remote.show?.json[0].node, daemon.info.peerId)
    assert.equal(remote.heads?.json.heads.length, 2)
    assert.equal(remote.routes?.json.routes.length, 3)
    assert.deepEqual(remote.ls?.json.map((s: { session: string }) => s.session), ['tides'])
    // The steps are part of the next commit.
    const c = await both(['commit', '-m', 'with reasoning'])
    assert.equal(c.remote.json.sessions.length, 2)
  })

  it('snapshot export and import through the daemon: byte-identical CARs, same roots across machines', async (t) => {
    const { dir, onRemote, onLocal, startDaemon } = await workspaceFor(t, reasoningSeed)
    await startDaemon()
    const [remote, local] = await Promise.all([
      onRemote(['snapshot', 'export', 'main', '-o', 'remote.car', '--json']),
      onLocal(['snapshot', 'export', 'main', '-o', 'local.car', '--json'])
    ])
    assert.equal(remote.code, 0, remote.stderr)
    assert.deepEqual(shape(remote.json), shape(local.json))
    assert.deepEqual(Object.keys(remote.json), ['root', 'blocks', 'bytes'])
    const car = await readFile(join(dir, 'remote.car'))
    assert.equal(remote.json.bytes, car.byteLength)
    const toStdout = await onRemote(['snapshot', 'export', remote.json.root, '-o', '-'])
    assert.equal(toStdout.code, 0, toStdout.stderr)
    assert.ok(Buffer.from(toStdout.stdout, 'latin1').byteLength > 0)

    // Each side imports the other's snapshot and gets its root, with every block checked.
    const [intoRemote, intoLocal] = await Promise.all([
      onRemote(['snapshot', 'import', 'local.car', '--json']),
      onLocal(['snapshot', 'import', 'remote.car', '--json'])
    ])
    assert.equal(intoRemote.code, 0, intoRemote.stderr)
    assert.deepEqual(shape(intoRemote.json), shape(intoLocal.json))
    assert.equal(intoRemote.json.root, local.json.root)
    assert.equal(intoRemote.json.blocks, local.json.blocks)
    assert.equal(intoLocal.json.root, remote.json.root)
    assert.equal(intoLocal.json.blocks, remote.json.blocks, 'the block count of an export through the daemon is exact')
    const again = await onRemote(['snapshot', 'export', local.json.root, '-o', 'again.car', '--json'])
    assert.deepEqual(await readFile(join(dir, 'again.car')), await readFile(join(dir, 'local.car')))
    assert.equal(again.json.blocks, local.json.blocks)
    const verify = await onRemote(['verify', local.json.root, '--json'])
    assert.equal(verify.json.ok, true, verify.stdout)
  })

  // These tests only read (what they try to write is refused): one daemon serves them all.
  describe('on a daemon with history, tests that only read', () => {
    let w: Workspace
    let daemon: DaemonProcess
    before(async () => {
      w = await workspace(historySeed)
      daemon = await w.startDaemon()
    })
    after(async () => { await w?.close() })

    it('a second daemon on the same repository refuses with one line (repository locked)', async () => {
      const { remoteRepo, spawnDaemon } = w
      const second = spawnDaemon(remoteRepo, ['--api', '127.0.0.1:0', '--json', '--log-level', 'warn'])
      const { code } = await withTimeout(second.exited, START_TIMEOUT_MS, 'second daemon')
      assert.equal(code, 6)
      assert.equal(second.stderr().trim().split('\n').length, 1, second.stderr())
      assert.equal(JSON.parse(second.stderr()).code, 'ERR_REPO_LOCKED')
      assert.equal(JSON.parse(await readFile(join(remoteRepo, 'api.json'), 'utf8')).pid, daemon.child.pid, 'the first daemon\'s address stays')
    })

    describe('bad input through the daemon: the same code and exit status as locally, one line, no stack', () => {
      const MISSING = 'bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje'
      const cases: Array<[string, string[], string | undefined, string, number]> = [
        ['malformed JSON', ['frame', 'put', '-'], '{"id": ', 'ERR_JSON_INVALID', 4],
        ['schema violation', ['frame', 'put', '-'], '{"id":"a b","kind":"fact"}', 'ERR_FRAME_INVALID', 4],
        ['link to an unknown block', ['frame', 'put', '-'], `{"id":"a","kind":"fact","links":[{"cid":{"/":"${MISSING}"}}]}`, 'ERR_LINK_UNRESOLVED', 4],
        ['malformed NDJSON line', ['frame', 'import', '-'], '{"id":"ok","kind":"fact"}\n{"id":\n', 'ERR_JSON_INVALID', 4],
        ['unknown ref', ['log', 'nope'], undefined, 'ERR_REF_NOT_FOUND', 3],
        ['unknown CID', ['show', MISSING], undefined, 'ERR_BLOCK_NOT_FOUND', 3],
        ['unknown frame id', ['frame', 'get', 'no/such'], undefined, 'ERR_FRAME_NOT_FOUND', 3],
        ['unknown frame to remove', ['frame', 'rm', 'no/such'], undefined, 'ERR_FRAME_NOT_FOUND', 3],
        ['unknown branch', ['checkout', 'nope'], undefined, 'ERR_REF_NOT_FOUND', 3],
        ['unknown session', ['trace', 'show', 'nobody'], undefined, 'ERR_SESSION_NOT_FOUND', 3],
        ['bad step', ['trace', 'append', '-s', 's', '-'], '{"op":"Thought!","content":1}', 'ERR_TRACE_STEP_INVALID', 4],
        ['junk CAR', ['snapshot', 'import', '-'], 'this is not a car', 'ERR_CAR_INVALID', 4],
        ['bad branch name', ['branch', 'a..b'], undefined, 'ERR_REF_INVALID', 2],
        ['existing branch', ['checkout', '-b', 'exp'], undefined, 'ERR_REF_EXISTS', 2],
        ['delete the current branch', ['branch', '-d', 'main'], undefined, 'ERR_USAGE', 2]
      ]
      for (const [name, args, input, code, exit] of cases) {
        it(name, async () => {
          const { onRemote, onLocal } = w
          const [remote, local, human] = await Promise.all([onRemote([...args, '--json'], input), onLocal([...args, '--json'], input), onRemote(args, input)])
          assert.equal(remote.code, exit, remote.stderr)
          assert.equal(local.code, exit, local.stderr)
          assert.equal(JSON.parse(remote.stderr).code, code, remote.stderr)
          assert.equal(JSON.parse(local.stderr).code, code)
          assert.equal(human.code, exit)
          assert.match(human.stderr, new RegExp(`^error: .*\\(${code}\\)\\n$`))
          assert.doesNotMatch(human.stderr, /\n\s+at /, 'no stack trace')
          assert.equal(human.stdout, '')
        })
      }

      it('a bad line early in a large streamed import is answered (the upload is drained, not cut)', async () => {
        const { dir, onRemote } = w
        const lines = ['{"id":"big/0","kind":"fact"}', '{"id": "big/1",']
        for (let i = 2; i < 60_000; i++) lines.push(JSON.stringify({ id: `big/${i}`, kind: 'fact', body: 'x'.repeat(40) }))
        await writeFile(join(dir, 'big.ndjson'), lines.join('\n') + '\n')
        const r = await onRemote(['frame', 'import', 'big.ndjson', '--json'])
        assert.equal(r.code, 4, r.stderr)
        assert.equal(JSON.parse(r.stderr).code, 'ERR_JSON_INVALID')
        assert.match(JSON.parse(r.stderr).message, /big\.ndjson:2/)
        const missing = await onRemote(['frame', 'get', 'big/0', '--json'])
        assert.equal(missing.code, 3, 'all or nothing')
      })
    })
  })

  it('SIGTERM: exits 0 within a bounded time, removes api.json, and the CLI opens the repository locally again', async (t) => {
    const { remoteRepo, onRemote, startDaemon } = await workspaceFor(t, historySeed)
    const daemon = await startDaemon()
    const before = await onRemote(['log', '--json'])
    daemon.child.kill('SIGTERM')
    const { code, signal } = await withTimeout(daemon.exited, STOP_TIMEOUT_MS, 'daemon stop')
    assert.equal(signal, null)
    assert.equal(code, 0, daemon.stderr())
    assert.equal(existsSync(join(remoteRepo, 'api.json')), false)
    const after = await onRemote(['log', '--json'])
    assert.equal(after.code, 0, after.stderr)
    assert.deepEqual(after.json, before.json)
    const put = await onRemote(['frame', 'put', '-', '--json'], JSON.stringify({ id: 'after/daemon', kind: 'fact' }))
    assert.equal(put.code, 0, put.stderr)
  })

  it('a stale api.json (its daemon died without cleaning up) does not get in the way', async (t) => {
    // The repository as the SIGTERM test leaves it: a frame written locally after its daemon stopped.
    const { remoteRepo, onRemote, startDaemon } = await workspaceFor(t, async (node) => {
      await historySeed(node)
      await node.frames.put({ id: 'after/daemon', kind: 'fact' })
    })
    const dead = spawn(process.execPath, ['-e', ''])
    const pid = dead.pid as number
    await new Promise(resolve => dead.once('exit', resolve))
    await writeFile(join(remoteRepo, 'api.json'), JSON.stringify({ url: 'http://127.0.0.1:9', pid, token: 'x' }))
    const r = await onRemote(['frame', 'get', 'after/daemon', '--json'])
    assert.equal(r.code, 0, r.stderr)
    // A daemon starting over it replaces it.
    const d = await startDaemon()
    assert.equal(JSON.parse(await readFile(join(remoteRepo, 'api.json'), 'utf8')).pid, d.child.pid)
    const through = await onRemote(['frame', 'get', 'after/daemon', '--json'])
    assert.equal(through.code, 0, through.stderr)
    d.child.kill('SIGINT')
    const { code } = await withTimeout(d.exited, STOP_TIMEOUT_MS, 'daemon stop on SIGINT')
    assert.equal(code, 0, d.stderr())
    assert.equal(existsSync(join(remoteRepo, 'api.json')), false)
  })

  it('a port that is taken: one-line error, non-zero exit, nothing recorded', async (t) => {
    const { localRepo, onLocal, spawnDaemon } = await workspaceFor(t, historySeed)
    const server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as AddressInfo).port
      for (const json of [true, false]) {
        const child = spawnDaemon(localRepo, ['--api', `127.0.0.1:${port}`, ...(json ? ['--json'] : [])])
        const { code } = await withTimeout(child.exited, START_TIMEOUT_MS, 'daemon on a taken port')
        const out = child.stdout()
        const err = child.stderr()
        assert.equal(code, 2, err)
        assert.equal(out, '')
        assert.equal(err.trim().split('\n').length, 1, err)
        if (json) assert.deepEqual(JSON.parse(err), { code: 'ERR_USAGE', message: `cannot listen on 127.0.0.1:${port}: address in use` })
        else assert.equal(err, `error: cannot listen on 127.0.0.1:${port}: address in use (ERR_USAGE)\n`)
        assert.equal(existsSync(join(localRepo, 'api.json')), false)
      }
    } finally {
      server.close()
    }
    // And the repository is free again.
    const r = await onLocal(['log', '-n', '1', '--json'])
    assert.equal(r.code, 0, r.stderr)
  })
})
