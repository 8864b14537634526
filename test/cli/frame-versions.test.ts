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
  }
})
