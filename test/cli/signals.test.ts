import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createNode } from '../../src/node.ts'
import { olderNode } from '../../scripts/older-node.ts'
import { startDaemonProcess, waitFor } from '../helpers/daemon.ts'
import { tempDir } from '../helpers/repo.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'framehub.js')

function npmPath (): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir !== '' && existsSync(join(dir, 'npm'))) return join(dir, 'npm')
  return undefined
}

interface Started { child: ChildProcess, url: string, exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>, stderr: () => string }

/** Spawns a command that runs the daemon and waits for its --json address line. */
async function startVia (command: string, args: string[], env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => { resolve({ code, signal }) }))
  let out = ''
  let err = ''
  child.stderr?.on('data', (c: Buffer) => { err += c.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no address within 120 s: ${err}`)) }, 120_000)
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n').find(l => l.startsWith('{') && l.includes('"url"') && l.endsWith('}'))
      if (line != null) { clearTimeout(timer); resolve((JSON.parse(line) as { url: string }).url) }
    })
    void exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`exited with ${code}: ${err}`)) })
  })
  return { child, url, exited, stderr: () => err }
}

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch (err) { return (err as { code?: string }).code === 'EPERM' }
}

async function portFree (url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  const server = createServer()
  return await new Promise(resolve => {
    server.once('error', () => { resolve(false) })
    server.listen(Number(port), hostname, () => { server.close(() => { resolve(true) }) })
  })
}

/**
 * After the launcher got `signal` and exited: the daemon it ran is gone, it exited cleanly
 * (address file removed), its port is free and its repository opens here (the lock is released).
 */
async function assertStoppedCleanly (repo: string, url: string, daemonPid: number, launcher: Started, options: { launcherSignal?: NodeJS.Signals, launcherStatusAnyway?: boolean } = {}): Promise<void> {
  const { code, signal } = await launcher.exited
  if ((options.launcherSignal != null && signal === options.launcherSignal) || options.launcherStatusAnyway === true) {
    // npm itself dies of a Ctrl-C it got from the terminal (or reports its shell's death); the
    // daemon stops on its own.
    await waitFor('the daemon exits', async () => alive(daemonPid) ? undefined : true, 60_000)
  } else {
    assert.equal(code, 0, `the launcher exits 0 once the daemon has stopped cleanly (signal ${String(signal)}); stderr: ${launcher.stderr()}`)
  }
  assert.doesNotMatch(launcher.stderr(), /stopping now|did not stop/)
  assert.equal(alive(daemonPid), false, 'the daemon process is gone')
  assert.equal(existsSync(join(repo, 'api.json')), false, 'the daemon removed its address: it closed, it was not killed')
  assert.equal(await portFree(url), true, 'the port is free')
  const node = await createNode({ repo })
  await node.close()
}

describe('stopping the daemon through its launchers', { timeout: 600_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  const started: Started[] = []
  before(async () => { ({ dir, cleanup } = await tempDir()) })
  after(async () => {
    for (const s of started) if (s.child.exitCode == null && s.child.signalCode == null) s.child.kill('SIGKILL')
    await cleanup()
  })

  for (const [name, signals] of [['SIGHUP (its terminal went away)', ['SIGHUP']], ['SIGTERM sent twice at once (a launcher forwarding what the daemon got too)', ['SIGTERM', 'SIGTERM']]] as const) {
    it(`the daemon stops cleanly on ${name}`, async () => {
      const repo = join(dir, `direct-${signals.length}-${signals[0]}`)
      const d = await startDaemonProcess(repo, ['--offline'])
      const launcher: Started = { child: d.child, url: d.info.url, exited: d.exited, stderr: d.stderr }
      started.push(launcher)
      for (const signal of signals) d.child.kill(signal)
      await assertStoppedCleanly(repo, d.info.url, d.child.pid as number, launcher)
    })
  }

  const older = olderNode()
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`bin/framehub.js on a Node older than 22.18 passes ${signal} on: the daemon stops, port and repository free`, { skip: older == null ? 'no Node older than 22.18 on this machine: bin/framehub.js runs the CLI in-process there, nothing to forward' : false }, async () => {
      const repo = join(dir, `bin-${signal}`)
      const launcher = await startVia(older as string, [BIN, '--repo', repo, 'daemon', '--api', '127.0.0.1:0', '--json', '--offline', '--log-level', 'warn'])
      started.push(launcher)
      const daemonPid = (JSON.parse(readFileSync(join(repo, 'api.json'), 'utf8')) as { pid: number }).pid
      assert.notEqual(daemonPid, launcher.child.pid, 'the daemon runs in a Node 24 child of the launcher')
      launcher.child.kill(signal)
      await assertStoppedCleanly(repo, launcher.url, daemonPid, launcher)
    })
  }

  it('bin/framehub.js --version answers on the older Node without starting Node 24', { skip: older == null ? 'no Node older than 22.18 on this machine' : false }, () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
    assert.equal(execFileSync(older as string, [BIN, '--version'], { encoding: 'utf8' }).trim(), version)
  })

  const npm = npmPath()
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`npm start stops on ${signal} sent to npm: the daemon stops, port and repository free`, { skip: npm == null ? 'npm is not on PATH' : false }, async () => {
      const repo = join(dir, `npm-${signal}`)
      const launcher = await startVia(npm as string, ['start', '--silent', '--', '--api', '127.0.0.1:0', '--json', '--offline', '--log-level', 'warn'], { FRAMEHUB_REPO: repo })
      started.push(launcher)
      const daemonPid = (JSON.parse(readFileSync(join(repo, 'api.json'), 'utf8')) as { pid: number }).pid
      launcher.child.kill(signal)
      await assertStoppedCleanly(repo, launcher.url, daemonPid, launcher)
    })
  }

  const npx = npm != null ? join(npm, '..', 'npx') : undefined
  it('npx framehub daemon stops on SIGTERM sent to npx (its shell dies without passing it on; the daemon notices)', { skip: npx == null || !existsSync(npx) ? 'npx is not on PATH' : false }, async () => {
    const repo = join(dir, 'npx')
    const launcher = await startVia(npx as string, ['--no-install', 'framehub', '--repo', repo, 'daemon', '--api', '127.0.0.1:0', '--json', '--offline', '--log-level', 'warn'])
    started.push(launcher)
    const daemonPid = (JSON.parse(readFileSync(join(repo, 'api.json'), 'utf8')) as { pid: number }).pid
    assert.notEqual(daemonPid, launcher.child.pid)
    launcher.child.kill('SIGTERM')
    await assertStoppedCleanly(repo, launcher.url, daemonPid, launcher, { launcherStatusAnyway: true })
  })

  it('a Ctrl-C in a terminal (SIGINT to the whole process group, forwarded once more by npm) is one clean stop', { skip: npm == null ? 'npm is not on PATH' : false }, async () => {
    const repo = join(dir, 'npm-group')
    const child = spawn(npm as string, ['start', '--silent', '--', '--api', '127.0.0.1:0', '--json', '--offline', '--log-level', 'warn'], {
      cwd: ROOT, env: { ...process.env, CI: 'true', FRAMEHUB_REPO: repo }, stdio: ['ignore', 'pipe', 'pipe'], detached: true
    })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, sig) => { resolve({ code, signal: sig }) }))
    let out = ''
    let err = ''
    child.stderr.on('data', (c: Buffer) => { err += c.toString() })
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
        const line = out.split('\n').find(l => l.startsWith('{') && l.includes('"url"') && l.endsWith('}'))
        if (line != null) resolve((JSON.parse(line) as { url: string }).url)
      })
      void exited.then(({ code }) => { reject(new Error(`exited with ${code}: ${err}`)) })
    })
    const launcher: Started = { child, url, exited, stderr: () => err }
    started.push(launcher)
    const daemonPid = (JSON.parse(readFileSync(join(repo, 'api.json'), 'utf8')) as { pid: number }).pid
    process.kill(-(child.pid as number), 'SIGINT') // what the terminal does on Ctrl-C
    await assertStoppedCleanly(repo, url, daemonPid, launcher, { launcherSignal: 'SIGINT' })
  })
})
