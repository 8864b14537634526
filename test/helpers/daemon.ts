import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { CLI, runCli, wrapped } from './repo.ts'
import type { CliResult } from './repo.ts'

/** What a daemon prints on start with --json. */
export interface DaemonInfo {
  url: string
  peerId: string
  repo: string
  network: string | null
  /** libp2p listen addresses, each ending in /p2p/<peer id>. */
  addresses: string[]
}

export interface DaemonProcess {
  child: ChildProcessWithoutNullStreams
  info: DaemonInfo
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  stderr: () => string
  /** Runs the real CLI on this daemon's repository (so it goes through the daemon's API). */
  cli: (args: string[], options?: { input?: string, timeoutMs?: number }) => Promise<CliResult>
  /** SIGTERM, and waits for the exit (SIGKILL after `ms`). */
  stop: (ms?: number) => Promise<void>
  /** SIGKILL, and waits for the exit. */
  kill: () => Promise<void>
}

/**
 * Starts `framehub --repo REPO daemon --api 127.0.0.1:0 --json …extra` (libp2p on loopback,
 * random ports) and waits for its address line, at most `timeoutMs`.
 */
export async function startDaemonProcess (repo: string, extra: string[] = [], options: { timeoutMs?: number, cwd?: string, env?: Record<string, string>, wrap?: string[] } = {}): Promise<DaemonProcess> {
  const [command, ...args] = wrapped(options.wrap, [CLI, '--repo', repo, 'daemon', '--api', '127.0.0.1:0', '--json', '--log-level', 'warn', ...extra])
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, CI: 'true', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { resolve({ code, signal }) })
  })
  let out = ''
  let err = ''
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const timeoutMs = options.timeoutMs ?? 60_000
  const info = await new Promise<DaemonInfo>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`daemon did not start within ${timeoutMs} ms: ${err}`)) }, timeoutMs)
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n').find(l => l.startsWith('{') && l.includes('"url"') && l.endsWith('}'))
      if (line != null) { clearTimeout(timer); resolve(JSON.parse(line) as DaemonInfo) }
    })
    void exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`daemon exited with ${code}: ${err}`)) })
  })
  const stop = async (ms = 15_000): Promise<void> => {
    if (child.exitCode != null || child.signalCode != null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, ms)
    await exited
    clearTimeout(timer)
  }
  return {
    child,
    info,
    exited,
    stderr: () => err,
    cli: async (args, o = {}) => await runCli(['--repo', repo, ...args], { ...o, cwd: options.cwd, wrap: options.wrap }),
    stop,
    kill: async () => {
      if (child.exitCode != null || child.signalCode != null) return
      child.kill('SIGKILL')
      await exited
    }
  }
}

/** What a test writes into a repository before its daemon starts, through the node's services in-process. */
export type Seed = (node: FramehubNode) => Promise<void>

/**
 * A seed step several tests share: branch `exp` changes physics/gravity one way and adds
 * chem/water, main changes physics/gravity the other way, and main merges exp (ours stays, theirs
 * is kept as a fork). Starts and ends on main, which must have a commit.
 */
export const mergeWithFork: Seed = async (node) => {
  await node.refs.checkout('exp', { create: true })
  await node.frames.put({ id: 'physics/gravity', kind: 'fact', body: 'theirs' })
  await node.frames.put({ id: 'chem/water', kind: 'fact', body: 'H2O' })
  await node.commits.commit({ message: 'exp' })
  await node.refs.checkout('main')
  await node.frames.put({ id: 'physics/gravity', kind: 'fact', body: 'ours' })
  await node.commits.commit({ message: 'main' })
  await node.commits.merge('exp')
}

/**
 * Creates repository `repo` (if there is none) and writes `seed` into it in-process, then closes
 * it: the state a test starts from, made without a CLI process per step and without relying on
 * what an earlier test wrote.
 */
export async function seedRepo (repo: string, seed: Seed = async () => {}): Promise<void> {
  const node = await createNode({ repo, create: true })
  try {
    await seed(node)
  } finally {
    await node.close()
  }
}

/** `seedRepo`, then `startDaemonProcess` on it: a daemon that starts with what `seed` wrote. */
export async function startSeededDaemon (repo: string, seed: Seed, extra: string[] = [], options: Parameters<typeof startDaemonProcess>[2] = {}): Promise<DaemonProcess> {
  await seedRepo(repo, seed)
  return await startDaemonProcess(repo, extra, options)
}

/** Polls `check` every `everyMs` until it returns a value other than undefined, at most `timeoutMs`. */
export async function waitFor<T> (what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last != null ? ` (last error: ${(last as Error).message})` : ''}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
