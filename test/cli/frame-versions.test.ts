import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startDaemonProcess } from '../helpers/daemon.ts'
import type { DaemonProcess } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'
import type { CliResult } from '../helpers/repo.ts'

type Cli = (args: string[], input?: string) => Promise<CliResult>

const note = (id: string, body: unknown): string => JSON.stringify({ id, kind: 'note', body })

/** The `--json` error a failed command prints on stderr. */
const errorOf = (r: CliResult): { code: string, message: string } => JSON.parse(r.stderr.trim().split('\n').at(-1) as string)

/**
 * The same checks on a repository opened in-process and on one a running daemon holds (the CLI
 * then goes through the daemon's API): same output, same codes, same exit statuses.
 */
describe('frame put --if-match, history and revert, in-process and through a daemon', { timeout: 300_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let daemon: DaemonProcess
  const runners: Record<string, Cli> = {}

  before(async () => {
    dir = await tempDir('framehub-cli-versions-')
    const local = join(dir.dir, 'local')
    const init = await runCli(['--repo', local, 'init', '--json'])
    assert.equal(init.code, 0, init.stderr)
    runners.local = async (args, input) => await runCli(['--repo', local, ...args], { input })
    daemon = await startDaemonProcess(join(dir.dir, 'remote'))
    runners.daemon = async (args, input) => await daemon.cli(args, { input })
  })
  after(async () => {
    await daemon?.stop()
    await dir?.cleanup()
  })

  for (const where of ['local', 'daemon']) {
    it(`${where}: --if-match writes only over the version read; a stale one exits 8 with ERR_CONFLICT`, async () => {
      const cli = runners[where] as Cli
      const v1 = await cli(['frame', 'put', '-', '--json'], note('v/a', 1))
      assert.equal(v1.code, 0, v1.stderr)
      const v2 = await cli(['frame', 'put', '-', '--json', '--if-match', v1.json.cid], note('v/a', 2))
      assert.equal(v2.code, 0, v2.stderr)
      const stale = await cli(['frame', 'put', '-', '--json', '--if-match', v1.json.cid], note('v/a', 3))
      assert.equal(stale.code, 8, stale.stderr)
      assert.equal(errorOf(stale).code, 'ERR_CONFLICT')
      assert.match(errorOf(stale).message, /v\/a/)
      const human = await cli(['frame', 'put', '-', '--if-match', v1.json.cid], note('v/a', 3))
      assert.equal(human.code, 8)
      assert.match(human.stderr, /^error: .*\(ERR_CONFLICT\)\n$/)
      const got = await cli(['frame', 'get', 'v/a', '--json'])
      assert.equal(got.json.cid, v2.json.cid)

      const created = await cli(['frame', 'put', '-', '--json', '--if-none-match'], note('v/new', 1))
      assert.equal(created.code, 0, created.stderr)
      const twice = await cli(['frame', 'put', '-', '--json', '--if-none-match'], note('v/new', 2))
      assert.equal(twice.code, 8)
      assert.equal(errorOf(twice).code, 'ERR_CONFLICT')

      const rmStale = await cli(['frame', 'rm', 'v/new', '--json', '--if-match', v1.json.cid])
      assert.equal(rmStale.code, 8)
    })

    it(`${where}: malformed --if-match is refused before any write`, async () => {
      const cli = runners[where] as Cli
      const bad = await cli(['frame', 'put', '-', '--json', '--if-match', 'bafynotacid'], note('v/b', 1))
      assert.equal(bad.code, 4, bad.stderr)
      assert.equal(errorOf(bad).code, 'ERR_CID_INVALID')
      const both = await cli(['frame', 'put', '-', '--json', '--if-match', 'bafynotacid', '--if-none-match'], note('v/b', 1))
      assert.equal(both.code, 2)
      assert.equal(errorOf(both).code, 'ERR_USAGE')
      const absent = await cli(['frame', 'get', 'v/b', '--json'])
      assert.equal(absent.code, 3, 'nothing was written')
    })

    it(`${where}: frame history lists the versions with their commits and steps; frame revert stages one`, async () => {
      const cli = runners[where] as Cli
      const v1 = (await cli(['frame', 'put', '-', '--json'], note('h/a', 1))).json.cid as string
      const step = await cli(['trace', 'append', '-s', 'why', '-', '--json'], JSON.stringify({ op: 'conclusion', content: 'a is 1', outputs: [{ '/': v1 }] }))
      assert.equal(step.code, 0, step.stderr)
      assert.equal((await cli(['commit', '-m', 'a one', '--json'])).code, 0)
      const v2 = (await cli(['frame', 'put', '-', '--json'], note('h/a', 2))).json.cid as string
      const c2 = await cli(['commit', '-m', 'a two', '--json'])
      assert.equal(c2.code, 0, c2.stderr)

      const h = await cli(['frame', 'history', 'h/a', '--json'])
      assert.equal(h.code, 0, h.stderr)
      assert.equal(h.json.id, 'h/a')
      assert.equal(h.json.staged, null)
      assert.deepEqual(h.json.versions.map((v: any) => [v.message, v.cid]), [['a two', v2], ['a one', v1]])
      assert.equal(h.json.versions[0].commit, c2.json.commit)
      assert.deepEqual(h.json.versions[1].steps.map((s: any) => [s.cid, s.step.op, s.step.content]), [[step.json.cid, 'conclusion', 'a is 1']])
      const limited = await cli(['frame', 'history', 'h/a', '--limit', '1', '--ref', 'main', '--json'])
      assert.deepEqual(limited.json.versions.map((v: any) => v.cid), [v2])
      const human = await cli(['frame', 'history', 'h/a'])
      assert.equal(human.code, 0)
      assert.match(human.stdout, /a two/)
      assert.match(human.stdout, /step .* why +conclusion: a is 1/)

      const r = await cli(['frame', 'revert', 'h/a', '--to', v1, '--json'])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(r.json, { cid: v1, id: 'h/a' })
      assert.equal((await cli(['frame', 'get', 'h/a', '--json'])).json.cid, v1)
      assert.equal((await cli(['frame', 'history', 'h/a', '--json'])).json.staged.cid, v1)
    })

    it(`${where}: history and revert refuse bad input with their codes and exit statuses`, async () => {
      const cli = runners[where] as Cli
      const cases: Array<[string[], number, string]> = [
        [['frame', 'history', 'h/never'], 3, 'ERR_FRAME_NOT_FOUND'],
        [['frame', 'history', 'h/a', '--ref', 'no-such-branch'], 3, 'ERR_REF_NOT_FOUND'],
        [['frame', 'history', 'h/a', '--limit', '0'], 2, 'ERR_USAGE'],
        [['frame', 'history', 'h/a', '--limit', 'many'], 2, 'ERR_USAGE'],
        [['frame', 'revert', 'h/a', '--to', 'nonsense'], 4, 'ERR_CID_INVALID'],
        [['frame', 'revert', 'h/a', '--to', 'bafyreiabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop'], 4, 'ERR_CID_INVALID']
      ]
      for (const [args, exit, code] of cases) {
        const r = await cli([...args, '--json'])
        assert.equal(r.code, exit, `${args.join(' ')}: ${r.stderr}`)
        assert.equal(errorOf(r).code, code, args.join(' '))
      }
      const other = (await cli(['frame', 'put', '-', '--json'], note('h/other', 1))).json.cid as string
      const wrong = await cli(['frame', 'revert', 'h/a', '--to', other, '--json'])
      assert.equal(wrong.code, 3)
      assert.equal(errorOf(wrong).code, 'ERR_FRAME_NOT_FOUND')
      assert.match(errorOf(wrong).message, /version of frame "h\/other"/)
      const noTo = await cli(['frame', 'revert', 'h/a'])
      assert.equal(noTo.code, 2)
    })
  }
})
