// npm run demo: a 3-node framehub swarm on loopback, driven by the real CLI.
//
// Starts three daemons (temp repositories; node2 and node3 bootstrap from node1), runs the steps
// of scripts/demo-steps.ts (shared/main written on node1 then node2; a reasoning session started
// on node1, branched on node2, merged on node3), shows that all three nodes end with the same
// shared/main head and the same session, stops the daemons and removes the repositories.
// Exits 0 on success, 1 with a message when a command fails or a wait times out.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEMO_DAEMON_OUTPUT, LOOPBACK, NODES, SESSION, BRANCH, STEPS, daemonArgs } from './demo-steps.ts'
import type { NodeName, Step } from './demo-steps.ts'

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
const WAIT_MS = 30_000 // every wait (a daemon's start, replication, a command)
const TOTAL_MS = 120_000 // the whole demo
const POLL_MS = 150

const started = performance.now()
const dir = mkdtempSync(join(tmpdir(), 'framehub-demo-'))
const daemons = new Map<NodeName, { child: ChildProcess, log: string[], exited: Promise<void> }>()
const saved = new Map<string, string>()

// --- output ------------------------------------------------------------------------------------

const short = (cid: string): string => `${cid.slice(0, 8)}…${cid.slice(-6)}`
const shortCids = (text: string): string => text.replace(/\bbafy[a-z2-7]{40,}\b/g, short)
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const clock = (): string => `[${secs(performance.now() - started).padStart(7)}]`
const quote = (a: string): string => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`
const print = (line = ''): void => { process.stdout.write(`${line}\n`) }
const indent = (text: string): void => { for (const l of text.trimEnd().split('\n')) if (l !== '') print(`    ${shortCids(l)}`) }

class DemoError extends Error {}

// --- running the CLI ---------------------------------------------------------------------------

interface Result { code: number | null, stdout: string, stderr: string }

/** `framehub --repo NODE …args` (this checkout's CLI on this Node), in the demo directory, bounded. */
async function cli (node: NodeName, args: string[], stdin?: string): Promise<Result> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--repo', node, ...args], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, WAIT_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code == null) reject(new DemoError(`framehub --repo ${node} ${args.join(' ')}: no answer within ${secs(WAIT_MS)}`))
      else resolve({ code, stdout, stderr })
    })
    child.stdin.end(stdin ?? '')
  })
}

/** Runs a command that must succeed; returns its stdout (or its parsed JSON with --json). */
async function ok (node: NodeName, args: string[], stdin?: string): Promise<any> {
  const r = await cli(node, args, stdin)
  if (r.code !== 0) throw new DemoError(`framehub --repo ${node} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`)
  return args.includes('--json') ? JSON.parse(r.stdout) : r.stdout
}

/** Polls `check` until it returns something other than undefined, at most WAIT_MS. */
async function waitFor<T> (what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + WAIT_MS
  let last = ''
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) { last = (err as Error).message }
    if (performance.now() > deadline) throw new DemoError(`timed out after ${secs(WAIT_MS)} waiting for ${what}${last !== '' ? ` (last error: ${last})` : ''}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

// --- daemons -----------------------------------------------------------------------------------

async function startDaemon (node: NodeName, node1Address?: string): Promise<{ peerId: string, url: string, addresses: string[] }> {
  const args = [...daemonArgs(node, LOOPBACK, node1Address), ...DEMO_DAEMON_OUTPUT]
  print(`${clock()} $ framehub --repo ${node} ${args.map(quote).join(' ')} &`)
  const child = spawn(process.execPath, [CLI, '--repo', node, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const log: string[] = []
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  daemons.set(node, { child, log, exited })
  child.stderr?.on('data', (c: Buffer) => { log.push(...c.toString().split('\n').filter(l => l !== '')); log.splice(0, log.length - 20) })
  let out = ''
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new DemoError(`${node}'s daemon printed no address within ${secs(WAIT_MS)}`)) }, WAIT_MS)
    void exited.then(() => { clearTimeout(timer); reject(new DemoError(`${node}'s daemon exited (${child.exitCode ?? child.signalCode}) before it was up`)) })
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n').find(l => l.startsWith('{') && l.endsWith('}'))
      if (line == null) return
      clearTimeout(timer)
      const info = JSON.parse(line) as { peerId: string, url: string, addresses: string[] }
      print(`    ${node}: peer ${info.peerId}, API ${info.url}, libp2p ${info.addresses.join(' ')}`)
      resolve(info)
    })
  })
}

/** SIGTERM every daemon, SIGKILL those still up after 10 s; then removes the demo directory. */
async function stopAll (): Promise<void> {
  const running = [...daemons.entries()].filter(([, d]) => d.child.exitCode == null && d.child.signalCode == null)
  await Promise.all(running.map(async ([node, d]) => {
    d.child.kill('SIGTERM')
    const timer = setTimeout(() => { print(`    ${node} did not stop within 10 s: SIGKILL`); d.child.kill('SIGKILL') }, 10_000)
    await d.exited
    clearTimeout(timer)
  }))
  rmSync(dir, { recursive: true, force: true })
}

// --- the steps ---------------------------------------------------------------------------------

const headOf = async (node: NodeName): Promise<string | undefined> => {
  const r = await cli(node, ['log', BRANCH, '-n', '1', '--json'])
  return r.code === 0 ? (JSON.parse(r.stdout) as Array<{ commit: string }>)[0]?.commit : undefined
}
const stepsOf = async (node: NodeName): Promise<string[]> => {
  const r = await cli(node, ['trace', 'show', SESSION, '--json'])
  if (r.code !== 0) return []
  return (JSON.parse(r.stdout) as Array<{ cid: string }>).map(s => s.cid)
}
const value = (name: string): string => saved.get(name) ?? name
const have = (nodes: unknown[]): string => nodes.length === 1 ? 'has' : 'have'

async function perform (s: Step): Promise<void> {
  switch (s.kind) {
    case 'say':
      print()
      print(`== ${s.text}`)
      return
    case 'run': {
      const args = s.args.map(a => a.startsWith('$') ? value(a.slice(1)) : a)
      const stdin = s.stdin != null ? JSON.stringify(s.stdin) : undefined
      const shown = `framehub --repo ${s.node} ${s.args.map(a => a.startsWith('$') ? `"${a}"` : quote(a)).join(' ')}`
      const line = `${stdin != null ? `echo ${quote(stdin)} | ` : ''}${shown}`
      print(`${clock()} $ ${s.save != null ? `${s.save}=$(${line})` : line}`)
      const out = (await ok(s.node, args, stdin) as string).trim()
      if (s.save != null) {
        saved.set(s.save, out)
        print(`    ${s.save} = ${short(out)}`)
      } else {
        indent(out)
      }
      return
    }
    case 'same-head': {
      const head = await headOf(s.from)
      if (head == null) throw new DemoError(`${s.from} has no ${BRANCH} head`)
      print(`${clock()} … waiting until ${s.nodes.join(' and ')} ${have(s.nodes)} ${s.from}'s ${BRANCH} head ${short(head)} (framehub log ${BRANCH} -n 1)`)
      await Promise.all(s.nodes.map(async (n) => {
        const t = performance.now()
        await waitFor(`${n} to have ${s.from}'s ${BRANCH} head ${short(head)}`, async () => await headOf(n) === head ? true : undefined)
        print(`    ${n}: ${BRANCH} = ${short(head)} after ${secs(performance.now() - t)}`)
      }))
      return
    }
    case 'has-steps': {
      const want = s.steps.map(value)
      print(`${clock()} … waiting until ${s.nodes.join(' and ')} ${have(s.nodes)} ${s.steps.map(n => `$${n}`).join(', ')} of "${SESSION}" (framehub trace show ${SESSION})`)
      await Promise.all(s.nodes.map(async (n) => {
        const t = performance.now()
        await waitFor(`${n} to have ${s.steps.join(', ')} of session ${SESSION}`, async () => {
          const got = await stepsOf(n)
          return want.every(c => got.includes(c)) ? true : undefined
        })
        print(`    ${n}: has ${s.steps.map(x => `${x} ${short(value(x))}`).join(', ')} after ${secs(performance.now() - t)}`)
      }))
      return
    }
    case 'converged':
      await converged()
  }
}

/** Reads every node's head, session steps, routes and heads (--json) and checks they are all equal. */
async function converged (): Promise<void> {
  print(`${clock()} $ framehub --repo NODE log ${BRANCH} -n 1 --json; framehub --repo NODE trace show|routes|heads ${SESSION} --json   (NODE = ${NODES.join(', ')})`)
  const views = await Promise.all(NODES.map(async (n) => ({
    node: n,
    head: (await ok(n, ['log', BRANCH, '-n', '1', '--json']) as Array<{ commit: string }>)[0]?.commit ?? '-',
    steps: (await ok(n, ['trace', 'show', SESSION, '--json']) as Array<{ cid: string }>).map(x => x.cid),
    routes: (await ok(n, ['trace', 'routes', SESSION, '--json']) as { routes: string[][] }).routes,
    heads: (await ok(n, ['trace', 'heads', SESSION, '--json']) as { heads: string[] }).heads
  })))
  const stepsColumn = `"${SESSION}" steps`
  print(`    node   ${BRANCH.padEnd(16)} ${stepsColumn}  routes  heads`)
  for (const v of views) print(`    ${v.node}  ${short(v.head)}  ${String(v.steps.length).padStart(stepsColumn.length)}  ${String(v.routes.length).padStart(6)}  ${v.heads.map(short).join(' ')}`)
  const first = views[0]
  if (first == null) throw new DemoError('no nodes')
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
  for (const v of views.slice(1)) {
    if (v.head !== first.head) throw new DemoError(`${v.node}'s ${BRANCH} is ${v.head}, ${first.node}'s is ${first.head}`)
    if (!same([...v.steps].sort(), [...first.steps].sort())) throw new DemoError(`${v.node} and ${first.node} do not have the same steps of ${SESSION}`)
    const routes = (x: typeof v): string[] => x.routes.map(r => r.join(' ')).sort()
    if (!same(routes(v), routes(first)) || !same(v.heads, first.heads)) throw new DemoError(`${v.node} and ${first.node} do not have the same routes and heads of ${SESSION}`)
  }
  const decision = value('DECISION')
  if (first.routes.length < 2 || !first.routes.every(r => r.at(-1) === decision) || !same(first.heads, [decision])) {
    throw new DemoError(`session ${SESSION} should end in 2 routes merged by $DECISION: ${JSON.stringify(first.routes)}`)
  }
  print(`    all three nodes: ${BRANCH} = ${short(first.head)}; ${SESSION}: ${first.steps.length} steps, ${first.routes.length} routes merged by ${short(decision)} (written on node3)`)
}

// --- main --------------------------------------------------------------------------------------

async function main (): Promise<void> {
  print(`framehub demo: a 3-node swarm on loopback in ${dir}  ("framehub" = ${process.execPath} ${CLI})`)
  print()
  print('== Three daemons; node2 and node3 bootstrap from node1')
  const node1 = await startDaemon('node1')
  const address = node1.addresses[0]
  if (address == null) throw new DemoError('node1 printed no libp2p address')
  await Promise.all([startDaemon('node2', address), startDaemon('node3', address)])
  print(`${clock()} … waiting until node1 sees both peers and follows their chains (framehub peers)`)
  const t = performance.now()
  await waitFor('node1 to see node2 and node3 with their chains', async () => {
    const { peers } = await ok('node1', ['peers', '--json']) as { peers: Array<{ chain?: string }> }
    return peers.filter(p => p.chain != null).length >= 2 ? true : undefined
  })
  print(`    node1: 2 peers, their chains followed, after ${secs(performance.now() - t)}`)
  for (const s of STEPS) await perform(s)
}

const watchdog = setTimeout(() => {
  print(`\ndemo failed: not done within ${secs(TOTAL_MS)}`)
  for (const d of daemons.values()) d.child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
  process.exit(1)
}, TOTAL_MS)
process.once('SIGINT', () => { print('\ninterrupted: stopping the daemons'); void stopAll().finally(() => process.exit(130)) })

try {
  await main()
  print()
  print(`demo ok in ${secs(performance.now() - started)}; stopping the daemons (SIGTERM)`)
} catch (err) {
  process.exitCode = 1
  print()
  print(`demo failed: ${(err as Error).message}`)
  if (!(err instanceof DemoError)) print((err as Error).stack ?? '')
  for (const [node, d] of daemons) if (d.log.length > 0) print(`--- last lines of ${node}'s log:\n${d.log.join('\n')}`)
} finally {
  const t = performance.now()
  await stopAll()
  clearTimeout(watchdog)
  print(`stopped ${daemons.size} daemons in ${secs(performance.now() - t)} and removed ${dir}`)
}
