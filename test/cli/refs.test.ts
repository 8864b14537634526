import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { bases } from 'multiformats/basics'
import { CID } from 'multiformats/cid'
import { createNode } from '../../src/node.ts'
import { encodeCid, keys } from '../../src/storage/state.ts'
import { startDaemonProcess } from '../helpers/daemon.ts'
import type { DaemonProcess } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'
import type { CliResult } from '../helpers/repo.ts'

type Cli = (args: string[]) => Promise<CliResult>

/**
 * `show`, `log`, `verify` and `snapshot export` read a REF through the one resolver, in-process
 * and through a daemon alike: each says what the REF names, or fails with the same code and exit.
 */
async function named (cli: Cli, dir: string, ref: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const run = async (what: string, args: string[], pick: (json: any) => string): Promise<void> => {
    const r = await cli([...args, '--json'])
    if (r.code === 0) { out[what] = pick(r.json); return }
    // One line, a stable code, no stack trace.
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, `${what} ${ref}: ${r.stderr}`)
    out[what] = `exit ${r.code} ${JSON.parse(lines[0] as string).code as string}`
  }
  await run('show', ['show', ref], j => j.cid)
  await run('log', ['log', ref, '-n', '1'], j => j[0].commit)
  await run('verify', ['verify', ref], j => j.root)
  await run('snapshot export', ['snapshot', 'export', ref, '-o', join(dir, 'out.car')], j => j.root)
  return out
}
const all = (value: string): Record<string, string> => ({ show: value, log: value, verify: value, 'snapshot export': value })

describe('CLI: REFs and branch names (in-process and through a daemon)', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let repo: string
  let c1: string
  let c2: string
  let legacy: string
  let daemon: DaemonProcess | undefined

  before(async () => {
    ({ dir, cleanup } = await tempDir())
    repo = join(dir, 'repo')
    const node = await createNode({ repo, create: true })
    try {
      await node.frames.put({ id: 'r/one', kind: 'fact' })
      const first = (await node.commits.commit({ message: 'one' })).commit
      await node.frames.put({ id: 'r/two', kind: 'fact' })
      const second = (await node.commits.commit({ message: 'two' })).commit
      c1 = first.toString()
      c2 = second.toString()
      // A branch made before names that read as CIDs were refused: named like c1, pointing at c2.
      legacy = c1
      await node.repo.batch().putState(keys.ref(legacy), encodeCid(second)).write()
    } finally {
      await node.close()
    }
  })
  after(async () => {
    await daemon?.stop()
    await cleanup()
  })

  const modes: Array<[string, () => Promise<Cli>]> = [
    ['in-process', async () => async (args) => await runCli(['--repo', repo, ...args])],
    ['through a daemon', async () => {
      daemon = await startDaemonProcess(repo, ['--offline'])
      return daemon.cli
    }]
  ]

  for (const [mode, open] of modes) {
    describe(mode, () => {
      let cli: Cli
      before(async () => { cli = await open() })

      it('a CID always wins over a branch of the same name; refs/heads/NAME names the branch', async () => {
        assert.deepEqual(await named(cli, dir, legacy), all(c1))
        assert.deepEqual(await named(cli, dir, `refs/heads/${legacy}`), all(c2))
      })

      it('a mistyped CID exits 4 with ERR_CID_INVALID; an unknown name exits 3 with ERR_REF_NOT_FOUND', async () => {
        assert.deepEqual(await named(cli, dir, c1.slice(0, -1)), all('exit 4 ERR_CID_INVALID'))
        const human = await cli(['show', 'bafyreiabc123'])
        assert.equal(human.code, 4)
        assert.match(human.stderr, /^error: "bafyreiabc123" is not a valid CID \(and no branch has that name\) \(ERR_CID_INVALID\)\n$/)
        const unknown = await cli(['log', 'nope', '--json'])
        assert.deepEqual([unknown.code, JSON.parse(unknown.stderr.trim()).code], [3, 'ERR_REF_NOT_FOUND'])
      })

      it('no branch may be named like a CID: branch and checkout -b exit 2 with ERR_REF_INVALID', async () => {
        for (const args of [['branch', CID.parse(c2).toString(bases.base36), '--json'], ['checkout', '-b', c2, '--json'], ['branch', 'refs/heads/x', '--json']]) {
          const r = await cli(args)
          assert.deepEqual([r.code, JSON.parse(r.stderr.trim()).code], [2, 'ERR_REF_INVALID'], args.join(' '))
        }
        const human = await cli(['branch', c2])
        assert.equal(human.code, 2)
        assert.match(human.stderr, /^error: .* reads as a CID.*\(ERR_REF_INVALID\)\n$/)
        const start = await cli(['branch', 'x', '--start', c2.slice(0, -1), '--json'])
        assert.deepEqual([start.code, JSON.parse(start.stderr.trim()).code], [4, 'ERR_CID_INVALID'])
      })

      it('a branch already named like a CID is listed with a warning, and can be checked out', async () => {
        const list = await cli(['branch'])
        assert.equal(list.code, 0, list.stderr)
        assert.match(list.stdout, new RegExp(` ${legacy} `))
        assert.match(list.stderr, new RegExp(`^warning: branch "${legacy}" has a name that reads as a CID; name it as refs/heads/${legacy}`))
        const out = await cli(['checkout', legacy, '--json'])
        assert.equal(out.code, 0, out.stderr)
        assert.deepEqual(out.json, { branch: legacy, commit: c2 })
        const back = await cli(['checkout', 'main'])
        assert.equal(back.code, 0, back.stderr)
      })
    })
  }
})
