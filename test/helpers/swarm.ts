import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startDaemonProcess, waitFor } from './daemon.ts'
import type { DaemonProcess } from './daemon.ts'
import { tempDir } from './repo.ts'

export interface SwarmInit {
  /** Prefix of the temp directory that holds every node's repository. */
  prefix: string
  /** The `--network` name the daemons join. */
  network: string
  /** Default bound of `until`, in ms. */
  untilMs: number
  /** How often `until` polls, in ms. */
  everyMs: number
  /**
   * Where node `name` runs: a command its processes run through and the IPv4 address it listens
   * on (a test host in a network namespace, see `lan.ts`). Default: this host, 127.0.0.1.
   */
  host?: (name: string) => { wrap: string[], ip: string }
}

/**
 * Daemon processes on loopback (random ports), each on its own repository in one temp
 * directory, driven through the real CLI as a user would. Build it when the suite is declared,
 * `start()` it in `before` and `close()` it in `after`; the functions are usable unbound.
 */
export interface Swarm {
  /** The temp directory (after `start`). */
  readonly dir: string
  /** Starts `first` and then the others, each bootstrapping from `first`. */
  start: (first: string, ...others: string[]) => Promise<void>
  /** The repository path of node `name`. */
  repo: (name: string) => string
  /** Starts (or restarts) node `name`'s daemon, bootstrapping from `bootstrap` when given. */
  startNode: (name: string, bootstrap?: DaemonProcess) => Promise<DaemonProcess>
  /** The running daemon of node `name`. */
  node: (name: string) => DaemonProcess
  /** Runs `framehub … --json` on `name` through its daemon, asserts exit 0 and returns the JSON. */
  ok: (name: string, args: string[], input?: string) => Promise<any>
  /** The commit that `shared/main` points to on `name` (undefined while it has none). */
  sharedHead: (name: string) => Promise<string | undefined>
  /** The commit that `branch` points to on `name` (undefined while it has none). */
  headOf: (name: string, branch: string) => Promise<string | undefined>
  /** Polls `check` until it is true, at most `ms` (default `untilMs`). */
  until: (what: string, check: () => Promise<boolean>, ms?: number) => Promise<void>
  /** Stops every daemon and removes the temp directory. */
  close: () => Promise<void>
}

export function createSwarm (init: SwarmInit): Swarm {
  let dir: string | undefined
  let cleanup: (() => Promise<void>) | undefined
  const nodes = new Map<string, DaemonProcess>()
  const home = (): string => {
    if (dir == null) throw new Error('the swarm is not started')
    return dir
  }
  const repo = (name: string): string => join(home(), name)
  const startNode = async (name: string, bootstrap?: DaemonProcess): Promise<DaemonProcess> => {
    const host = init.host?.(name) ?? { wrap: [], ip: '127.0.0.1' }
    const extra = ['--listen', `/ip4/${host.ip}/tcp/0`, '--network', init.network, ...(bootstrap != null ? ['--bootstrap', bootstrap.info.addresses[0] as string] : [])]
    const d = await startDaemonProcess(repo(name), extra, { cwd: home(), wrap: host.wrap })
    nodes.set(name, d)
    return d
  }
  const node = (name: string): DaemonProcess => nodes.get(name) as DaemonProcess
  const headOf = async (name: string, branch: string): Promise<string | undefined> => {
    const r = await node(name).cli(['log', branch, '-n', '1', '--json'])
    return r.code === 0 ? (r.json as Array<{ commit: string }>)[0]?.commit : undefined
  }
  return {
    get dir () { return home() },
    repo,
    startNode,
    node,
    start: async (first, ...others) => {
      ({ dir, cleanup } = await tempDir(init.prefix))
      const a = await startNode(first)
      await Promise.all(others.map(async name => await startNode(name, a)))
    },
    ok: async (name, args, input) => {
      const r = await node(name).cli([...args, '--json'], { input })
      assert.equal(r.code, 0, `${name}: framehub ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
      return r.json
    },
    sharedHead: async (name) => await headOf(name, 'shared/main'),
    headOf,
    until: async (what, check, ms = init.untilMs) => {
      await waitFor(what, async () => (await check()) ? true : undefined, ms, init.everyMs)
    },
    close: async () => {
      await Promise.all([...nodes.values()].map(async d => { await d.stop(10_000).catch(() => {}) }))
      await cleanup?.()
    }
  }
}
