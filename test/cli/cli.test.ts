import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { mergeWithFork, seedRepo } from '../helpers/daemon.ts'
import type { Seed } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'
import type { CliResult } from '../helpers/repo.ts'

const GRAVITY = { id: 'physics/gravity', kind: 'fact', title: 'Gravity', body: '9.81', tags: ['physics'] }

/** What the "frame put → commit" test leaves: two commits on main (gravity with its attachment, then light). */
const historySeed: Seed = async (node) => {
  await node.frames.put(GRAVITY, { source: 'g.json', attach: [{ name: 'note.txt', bytes: new TextEncoder().encode('measured on earth') }] })
  await node.commits.commit({ message: 'first' })
  await node.frames.put({ id: 'physics/light', kind: 'fact', body: 'c' })
  await node.commits.commit({ message: 'second' })
}

/** And what the "merge" and "trace" tests add: branch exp merged into main with a fork kept, and session tides. */
const mergedSeed: Seed = async (node) => {
  await historySeed(node)
  await mergeWithFork(node)
  const goal = await node.traces.append('tides', { op: 'thought', content: 'goal' })
  const routes = []
  for (const n of [1, 2, 3]) routes.push((await node.traces.append('tides', { op: 'action', content: `route ${n}` }, { parents: [goal.cid] })).cid)
  await node.traces.append('tides', { op: 'conclusion', content: 'join' }, { parents: routes.slice(0, 2) })
}

// Each test works on a repository of its own (written in-process first by a seed, as the tests
// before it would leave it), so that any one runs alone and in any order.
describe('framehub CLI (real process)', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let repos = 0
  /** The CLI on a new repository (none yet without `seed`: `init` makes it), in the shared temp directory. */
  const repository = async (seed?: Seed): Promise<(args: string[], input?: string) => Promise<CliResult>> => {
    const repo = ['--repo', join(dir, `repo-${++repos}`)]
    if (seed != null) await seedRepo(repo[1] as string, seed)
    return async (args, input) => await runCli([...repo, ...args], { input, cwd: dir })
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir())
    await writeFile(join(dir, 'g.json'), JSON.stringify(GRAVITY))
    await writeFile(join(dir, 'note.txt'), 'measured on earth')
  })
  after(async () => { await cleanup() })

  it('init prints {peerId} and refuses a second init', async () => {
    const cli = await repository()
    const r = await cli(['init', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.json.peerId, /^12D3KooW/)
    const again = await cli(['init', '--json'])
    assert.notEqual(again.code, 0)
    assert.equal(JSON.parse(again.stderr).code, 'ERR_REPO_EXISTS')
  })

  it('frame put → commit → log → show → diff keep the --json contract', async () => {
    const cli = await repository(async () => {})
    const put = await cli(['frame', 'put', 'g.json', '--attach', 'note.txt', '--json'])
    assert.equal(put.code, 0, put.stderr)
    assert.match(put.json.cid, /^bafyrei/)
    const got = await cli(['frame', 'get', 'physics/gravity', '--json'])
    assert.equal(got.json.cid, put.json.cid)
    assert.equal(got.json.frame.attachments[0].type, 'text/plain')
    assert.equal(got.json.frame.attachments[0].size, 17)

    const commit = await cli(['commit', '-m', 'first', '--json'])
    assert.equal(commit.code, 0, commit.stderr)
    assert.deepEqual(Object.keys(commit.json).slice(0, 2), ['commit', 'tree'])
    const empty = await cli(['commit', '-m', 'again', '--json'])
    assert.equal(empty.code, 1)
    assert.equal(JSON.parse(empty.stderr).code, 'ERR_NOTHING_TO_COMMIT')

    const light = await cli(['frame', 'put', '-', '--json'], JSON.stringify({ id: 'physics/light', kind: 'fact', body: 'c' }))
    const diff = await cli(['diff', '--json'])
    assert.deepEqual(diff.json, { added: [{ id: 'physics/light', before: null, after: light.json.cid }], removed: [], changed: [] })
    const second = await cli(['commit', '-m', 'second', '--json'])
    const d2 = await cli(['diff', commit.json.commit, second.json.commit, '--json'])
    assert.equal(d2.json.added.length, 1)

    const log = await cli(['log', '--json'])
    assert.deepEqual(log.json.map((c: { message: string }) => c.message), ['second', 'first'])
    const show = await cli(['show', 'HEAD~1', '--json'])
    assert.equal(show.json.type, 'commit')
    assert.equal(show.json.cid, commit.json.commit)
    const ls = await cli(['frame', 'ls', '--kind', 'fact', '--json'])
    assert.deepEqual(ls.json.map((f: { id: string }) => f.id), ['physics/gravity', 'physics/light'])
  })

  it('merge keeps the current version in the tree and the other as a fork', async () => {
    const cli = await repository(historySeed)
    assert.equal((await cli(['checkout', '-b', 'exp'])).code, 0)
    await cli(['frame', 'put', '-'], JSON.stringify({ id: 'physics/gravity', kind: 'fact', body: 'theirs' }))
    await cli(['frame', 'put', '-'], JSON.stringify({ id: 'chem/water', kind: 'fact', body: 'H2O' }))
    await cli(['commit', '-m', 'exp'])
    await cli(['checkout', 'main'])
    const ours = await cli(['frame', 'put', '-', '--json'], JSON.stringify({ id: 'physics/gravity', kind: 'fact', body: 'ours' }))
    await cli(['commit', '-m', 'main'])
    const merge = await cli(['merge', 'exp', '--json'])
    assert.equal(merge.code, 0, merge.stderr)
    assert.equal(merge.json.forks.length, 1)
    assert.deepEqual(Object.keys(merge.json.forks[0]), ['id', 'ours', 'theirs'])
    assert.equal(merge.json.forks[0].ours, ours.json.cid)
    const forks = await cli(['forks', '--json'])
    assert.equal(forks.json[0].theirs, merge.json.forks[0].theirs)
    const gravity = await cli(['frame', 'get', 'physics/gravity', '--ref', 'main', '--json'])
    assert.equal(gravity.json.frame.body, 'ours')
    const theirs = await cli(['frame', 'get', merge.json.forks[0].theirs, '--json'])
    assert.equal(theirs.json.frame.body, 'theirs')
    assert.equal((await cli(['frame', 'get', 'chem/water', '--json'])).json.frame.body, 'H2O')
    assert.equal((await cli(['verify', '--json'])).json.ok, true)
  })

  it('trace append/show/heads/routes keep three routes of one goal', async () => {
    const cli = await repository(historySeed)
    const step = (op: string, content: string) => JSON.stringify({ op, content })
    const a = (await cli(['trace', 'append', '-s', 'tides', '-', '--json'], step('thought', 'goal'))).json.cid
    const routes: string[] = []
    for (const n of [1, 2, 3]) routes.push((await cli(['trace', 'append', '-s', 'tides', '--parent', a, '-', '--json'], step('action', `route ${n}`))).json.cid)
    const heads = await cli(['trace', 'heads', 'tides', '--json'])
    assert.equal(heads.json.heads.length, 3)
    const r = await cli(['trace', 'routes', 'tides', '--json'])
    assert.equal(r.json.routes.length, 3)
    const merged = await cli(['trace', 'append', '-s', 'tides', '--parent', routes[0] as string, '--parent', routes[1] as string, '-', '--json'], step('conclusion', 'join'))
    assert.equal(merged.code, 0, merged.stderr)
    const show = await cli(['trace', 'show', 'tides', '--json'])
    assert.equal(show.json.length, 5)
    assert.equal(show.json[0].cid, a)
    assert.equal(show.json[4].op, 'conclusion')
  })

  it('snapshot export → import on a fresh repo restores the same root, byte-identical CARs', async () => {
    const cli = await repository(mergedSeed)
    const exp = await cli(['snapshot', 'export', 'main', '-o', 'a.car', '--json'])
    assert.equal(exp.code, 0, exp.stderr)
    assert.deepEqual(Object.keys(exp.json), ['root', 'blocks', 'bytes'])
    const other = ['--repo', join(dir, 'other')]
    await runCli([...other, 'init'])
    const imp = await runCli([...other, 'snapshot', 'import', 'a.car', '--json'], { cwd: dir })
    assert.equal(imp.code, 0, imp.stderr)
    assert.equal(imp.json.root, exp.json.root)
    assert.equal(imp.json.blocks, exp.json.blocks)
    const again = await runCli([...other, 'snapshot', 'export', exp.json.root, '-o', 'b.car', '--json'], { cwd: dir })
    assert.equal(again.json.bytes, exp.json.bytes)
    const { readFile } = await import('node:fs/promises')
    assert.deepEqual(await readFile(join(dir, 'b.car')), await readFile(join(dir, 'a.car')))
    assert.equal((await runCli([...other, 'verify', exp.json.root, '--json'])).json.ok, true)
  })

  // These only read (what they try to write is refused): one repository serves them all.
  describe('bad input: one line, stable code, non-zero exit, no stack trace', () => {
    let cli: (args: string[], input?: string) => Promise<CliResult>
    before(async () => { cli = await repository(mergedSeed) })
    const cases: Array<[string, string[], string | undefined, string]> = [
      ['malformed JSON', ['frame', 'put', '-'], '{"id": ', 'ERR_JSON_INVALID'],
      ['schema violation', ['frame', 'put', '-'], '{"id":"a b","kind":"fact"}', 'ERR_FRAME_INVALID'],
      ['unknown field', ['frame', 'put', '-'], '{"id":"a","kind":"fact","author":"me"}', 'ERR_FRAME_INVALID'],
      ['link to an unknown block', ['frame', 'put', '-'], '{"id":"a","kind":"fact","links":[{"cid":{"/":"bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje"}}]}', 'ERR_LINK_UNRESOLVED'],
      ['bad CID in a link', ['frame', 'put', '-'], '{"id":"a","kind":"fact","links":[{"cid":{"/":"nope"}}]}', 'ERR_FRAME_INVALID'],
      ['missing file', ['frame', 'put', 'no-such.json'], undefined, 'ERR_FILE_NOT_FOUND'],
      ['unknown CID', ['show', 'bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje'], undefined, 'ERR_BLOCK_NOT_FOUND'],
      ['unknown ref', ['log', 'nope'], undefined, 'ERR_REF_NOT_FOUND'],
      ['unknown frame id', ['frame', 'get', 'no/such'], undefined, 'ERR_FRAME_NOT_FOUND'],
      ['unknown session', ['trace', 'show', 'nobody'], undefined, 'ERR_SESSION_NOT_FOUND'],
      ['bad step', ['trace', 'append', '-s', 's', '-'], '{"op":"Thought!","content":1}', 'ERR_TRACE_STEP_INVALID'],
      ['bad parent CID', ['trace', 'append', '-s', 's', '--parent', 'xyz', '-'], '{"op":"thought","content":1}', 'ERR_CID_INVALID'],
      ['junk CAR', ['snapshot', 'import', '-'], 'this is not a car', 'ERR_CAR_INVALID'],
      ['bad branch name', ['branch', 'a..b'], undefined, 'ERR_REF_INVALID']
    ]
    for (const [name, args, input, code] of cases) {
      it(name, async () => {
        for (const json of [true, false]) {
          const r = await cli([...args, ...(json ? ['--json'] : [])], input)
          assert.notEqual(r.code, 0)
          assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
          if (json) assert.equal(JSON.parse(r.stderr).code, code, r.stderr)
          else {
            assert.match(r.stderr, new RegExp(`^error: .*\\(${code}\\)\\n$`))
            assert.equal(r.stderr.trim().split('\n').length, 1)
          }
        }
      })
    }

    it('a repo that does not exist', async () => {
      const r = await runCli(['--repo', join(dir, 'nothing-here'), 'log', '--json'])
      assert.equal(r.code, 3)
      assert.equal(JSON.parse(r.stderr).code, 'ERR_REPO_NOT_FOUND')
    })

    it('unknown options and commands are usage errors (exit 2)', async () => {
      assert.equal((await cli(['frame', 'put', '--bogus'])).code, 2)
      assert.equal((await cli(['nonsense'])).code, 2)
    })
  })

  it('every command has --help', async () => {
    const commands = [[], ['init'], ['config'], ['daemon'], ['frame'], ['frame', 'put'], ['frame', 'import'], ['frame', 'get'], ['frame', 'ls'], ['frame', 'rm'],
      ['commit'], ['log'], ['show'], ['diff'], ['branch'], ['checkout'], ['merge'], ['forks'],
      ['trace'], ['trace', 'append'], ['trace', 'show'], ['trace', 'heads'], ['trace', 'routes'], ['trace', 'ls'],
      ['snapshot'], ['snapshot', 'export'], ['snapshot', 'import'], ['verify']]
    for (const c of commands) {
      const r = await runCli([...c, '--help'])
      assert.equal(r.code, 0, `${c.join(' ')} --help: ${r.stderr}`)
      assert.match(r.stdout, /^Usage: framehub/)
    }
  })
})
