import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startDaemonProcess, waitFor } from '../helpers/daemon.ts'
import type { DaemonProcess } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'

/**
 * Commits made while no daemon ran (the CLI on its own) are published when the daemon starts:
 * a second node receives them through the first node's chain.
 */
describe('publishing what was committed while the daemon was down', { timeout: 600_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  const daemons: DaemonProcess[] = []
  before(async () => { ({ dir, cleanup } = await tempDir('framehub-publish-')) })
  after(async () => {
    await Promise.all(daemons.map(async d => { await d.stop(10_000).catch(() => {}) }))
    await cleanup()
  })

  const ok = async (repo: string, args: string[], input?: string): Promise<any> => {
    const r = await runCli(['--repo', repo, ...args, '--json'], { input })
    assert.equal(r.code, 0, `framehub ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    return r.json
  }
  const start = async (repo: string, extra: string[] = []): Promise<DaemonProcess> => {
    const d = await startDaemonProcess(repo, ['--listen', '/ip4/127.0.0.1/tcp/0', '--network', 'publish-test', ...extra], { cwd: dir })
    daemons.push(d)
    return d
  }
  const head = async (repo: string, d: DaemonProcess, ref: string): Promise<string | undefined> => {
    const r = await d.cli(['log', ref, '-n', '1', '--json'])
    return r.code === 0 ? (r.json as Array<{ commit: string }>)[0]?.commit : undefined
  }

  it('a shared/* commit made offline reaches a peer once the daemon starts, and again after a restart; a private branch stays private', async () => {
    const a = join(dir, 'a')
    const b = join(dir, 'b')
    await ok(a, ['init'])
    await ok(a, ['checkout', '--create', 'shared/main'])
    await ok(a, ['frame', 'put', '-'], JSON.stringify({ id: 'offline/one', kind: 'fact', title: 'committed with no daemon' }))
    const first = await ok(a, ['commit', '-m', 'offline commit'])
    // A branch that is not shared stays private.
    await ok(a, ['checkout', '--create', 'private'])
    await ok(a, ['frame', 'put', '-'], JSON.stringify({ id: 'offline/private', kind: 'fact' }))
    await ok(a, ['commit', '-m', 'private'])

    const da = await start(a)
    const db = await start(b, ['--bootstrap', da.info.addresses[0] as string])
    await waitFor('b has a\'s offline commit on shared/main', async () => await head(b, db, 'shared/main') === first.commit ? true : undefined, 120_000, 200)
    const remotes = (await db.cli(['remotes', '--json'])).json as { remotes: Array<{ peer: string, ref: string, head: string }> }
    assert.deepEqual(remotes.remotes.map(r => [r.peer, r.ref, r.head]), [[da.info.peerId, 'shared/main', first.commit]], 'only the shared branch was published')
    assert.equal((await db.cli(['log', 'private', '--json'])).code, 3, 'the private branch did not travel')

    // Stopped and committed to again, offline: the restart publishes the new head, once.
    await da.stop()
    await ok(a, ['checkout', 'shared/main'])
    await ok(a, ['frame', 'put', '-'], JSON.stringify({ id: 'offline/two', kind: 'fact' }))
    const second = await ok(a, ['commit', '-m', 'second offline commit'])
    const da2 = await start(a, ['--bootstrap', db.info.addresses[0] as string])
    await waitFor('b has the second offline commit', async () => await head(b, db, 'shared/main') === second.commit ? true : undefined, 120_000, 200)
    assert.ok(da2.info.peerId === da.info.peerId)
  })
})
