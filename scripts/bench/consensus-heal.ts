/**
 * Consensus after a partition heals, with real daemons on loopback: time from the heal to the
 * same shared/main head on every node (goal: under 2 s).
 *
 * N daemons (BENCH_HEAL_NODES, default 5) join one network; the first commits shared/main and all
 * follow it. Partition: the last ⌊N/2⌋ daemons stop, and each of them commits on its own with the
 * CLI (one frame id contested by every node, one of its own); the others commit too. Heal: the
 * stopped ones start again. Measured from the moment every restarted daemon answers (its start-up
 * is reported apart) until the last daemon moved shared/main to the head that all N then report
 * and decide (each one's `GET /consensus/shared/main` gives it). The time of that move is the
 * daemon's own, from its event stream; the polling over HTTP that confirms the agreement lags on
 * a busy machine and is reported apart as `seenMs`. The head must
 * be a consensus commit holding every side. BENCH_HEAL_ROUNDS (default 3) partitions, one after
 * another, on the same swarm.
 *
 * BENCH_HEAL_CUT=lan (section consensusHealLan of `npm run bench`; root only): the partition of
 * the issue, with no process start in it. The daemons run on a LAN of network namespaces
 * (`test/helpers/lan.ts`, each host with a management link for the bench's HTTP reads); the last
 * ⌊N/2⌋ hosts are cut off while every daemon runs on, both sides commit through their daemons and
 * agree within themselves, and the clock starts when the LAN is whole again.
 *
 *   node scripts/bench/consensus-heal.ts                        (JSON on stdout)
 *   BENCH_HEAL_CUT=lan node scripts/bench/consensus-heal.ts
 */
import { spawn } from 'node:child_process'
import { appendFileSync, createWriteStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLan } from '../../test/helpers/lan.ts'
import { cleanupAll, isMain, log, now, round, runProgram, tempDir } from './common.ts'

/** BENCH_HEAL_LOG=DIR: each daemon logs at debug level to DIR/<name>.log, and the bench marks its steps in DIR/bench.log. */
const LOG_DIR = process.env.BENCH_HEAL_LOG
const mark = (what: string): void => { if (LOG_DIR != null) appendFileSync(join(LOG_DIR, 'bench.log'), JSON.stringify({ time: Date.now(), msg: what }) + '\n') }
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

interface Daemon {
  name: string
  repo: string
  host: Host
  url: string
  addresses: string[]
  child: ChildProcessWithoutNullStreams
  /** Moves of shared/main that the daemon announced on its event stream: when (its clock, ms since the epoch) and to what. */
  moves: Array<{ time: number, to: string }>
  /** When the bench started to follow the event stream (a move before it is not seen). */
  watchedFrom: number
  stop: () => Promise<void>
}

/** Follows a daemon's `ref:move` events (Server-Sent Events) into `moves` until `signal` aborts. */
async function watchMoves (url: string, moves: Daemon['moves'], signal: AbortSignal): Promise<void> {
  const res = await fetch(`${url}/api/v1/events?types=ref:move`, { signal })
  if (res.body == null) throw new Error('the event stream has no body')
  const opened = (async () => {
    let buffer = ''
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += Buffer.from(chunk).toString()
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer.slice(0, end).split('\n').find(l => l.startsWith('data: '))
          buffer = buffer.slice(end + 2)
          if (data == null) continue
          const move = JSON.parse(data.slice(6)) as { time: number, ref: string, to: string | null }
          if (move.ref === 'shared/main' && move.to != null) moves.push({ time: move.time, to: move.to })
        }
      }
    } catch { /* aborted when the daemon stops */ }
  })()
  void opened
}

export interface ConsensusHealReport {
  nodes: number
  rounds: Array<{ partitioned: number, restartMs: number, healMs: number, seenMs: number, head: string, maximal: number, forks: number }>
  healMs: { median: number, max: number }
  goal: { note: string, met: boolean, reason?: string }
}

/** Where a daemon runs: this host on loopback, or a test host of the LAN (`BENCH_HEAL_CUT=lan`). */
interface Host {
  /** The command prefix that runs a process there (`ip netns exec NS`); empty here. */
  wrap: string[]
  /** Its gateway's address (`--api`), reachable from the bench. */
  api: string
  /** Its libp2p address (`--listen`). */
  listen: string
}

const LOOPBACK: Host = { wrap: [], api: '127.0.0.1', listen: '127.0.0.1' }

async function startDaemon (name: string, repo: string, bootstrap: string | undefined, host: Host = LOOPBACK): Promise<Daemon> {
  const args = [CLI, '--repo', repo, 'daemon', '--api', `${host.api}:0`, '--json', '--log-level', LOG_DIR != null ? 'debug' : 'warn', '--listen', `/ip4/${host.listen}/tcp/0`, '--network', 'bench-heal', ...(bootstrap != null ? ['--bootstrap', bootstrap] : [])]
  const [command, ...rest] = [...host.wrap, process.execPath, ...args] as [string, ...string[]]
  const child = spawn(command, rest, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } })
  let out = ''
  let err = ''
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  if (LOG_DIR != null) child.stderr.pipe(createWriteStream(join(LOG_DIR, `${name}.log`), { flags: 'a' }))
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const info = await new Promise<{ url: string, addresses: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${name} did not start: ${err}`)) }, 60_000)
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n').find(l => l.startsWith('{') && l.includes('"url"') && l.endsWith('}'))
      if (line != null) { clearTimeout(timer); resolve(JSON.parse(line)) }
    })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`${name} exited: ${err}`)) })
  })
  const moves: Daemon['moves'] = []
  const watching = new AbortController()
  await watchMoves(info.url, moves, watching.signal)
  return {
    moves,
    watchedFrom: Date.now(),
    name,
    repo,
    host,
    url: info.url,
    addresses: info.addresses,
    child,
    stop: async () => {
      watching.abort()
      if (child.exitCode != null || child.signalCode != null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => { child.kill('SIGKILL') }, 15_000)
      await exited
      clearTimeout(t)
    }
  }
}

let inputs = 0
async function cli (d: { repo: string, host: Host }, args: string[], input?: string): Promise<unknown> {
  const repo = d.repo
  if (input != null) {
    // The input goes in a file named for `-` (runProgram gives the child no stdin).
    const file = join(repo, '..', `input-${++inputs}.json`)
    await writeFile(file, input)
    args = args.map(a => a === '-' ? file : a)
  }
  const [command, ...rest] = [...d.host.wrap, process.execPath, CLI, '--repo', repo, ...args, '--json'] as unknown as [string, ...string[]]
  const r = await runProgram(command, rest, { env: { ...process.env, CI: 'true' } })
  if (r.code !== 0) throw new Error(`framehub ${args.join(' ')}: ${r.err}`)
  return JSON.parse(r.out)
}

async function head (d: Daemon): Promise<string | null> {
  try {
    const res = await fetch(`${d.url}/api/v1/head?branch=shared/main`)
    if (res.status !== 200) return null
    return ((await res.json()) as { commit: string | null }).commit
  } catch {
    return null
  }
}

async function decisionOf (d: Daemon): Promise<{ head: string, maximal: string[], forks: unknown[] } | null> {
  try {
    const res = await fetch(`${d.url}/api/v1/consensus/shared/main`)
    return res.status === 200 ? await res.json() as { head: string, maximal: string[], forks: unknown[] } : null
  } catch {
    return null
  }
}

async function until (what: string, check: () => Promise<boolean>, ms: number, every = 10): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, every))
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0 }

export async function benchConsensusHeal (nodes = Number(process.env.BENCH_HEAL_NODES ?? 5), rounds = Number(process.env.BENCH_HEAL_ROUNDS ?? 3), cutBy: 'restart' | 'lan' = process.env.BENCH_HEAL_CUT === 'lan' ? 'lan' : 'restart'): Promise<ConsensusHealReport> {
  const dir = await tempDir('consensus-heal')
  const daemons: Daemon[] = []
  const names = Array.from({ length: nodes }, (_v, i) => `n${i}`)
  const lan = cutBy === 'lan' ? await createLan(names, { management: true }) : undefined
  if (typeof lan === 'string') throw new Error(`BENCH_HEAL_CUT=lan: ${lan}`)
  const hostOf = (name: string): Host => lan == null ? LOOPBACK : { wrap: lan.wrap(name), api: lan.managementIp(name), listen: lan.ip(name) }
  try {
    log(`consensus heal: starting ${nodes} daemons${lan != null ? ' on a LAN of network namespaces' : ''}`)
    daemons.push(await startDaemon(names[0] as string, join(dir, names[0] as string), undefined, hostOf(names[0] as string)))
    const boot = (daemons[0] as Daemon).addresses[0] as string
    daemons.push(...await Promise.all(names.slice(1).map(async n => await startDaemon(n, join(dir, n), boot, hostOf(n)))))
    const first = daemons[0] as Daemon
    await cli(first, ['checkout', '--create', 'shared/main'])
    await cli(first, ['frame', 'put', '-'], JSON.stringify({ id: 'heal/contested', kind: 'fact', body: 'start' }))
    const start = (await cli(first, ['commit', '-m', 'start']) as { commit: string }).commit
    await until('every node has the start', async () => (await Promise.all(daemons.map(head))).every(h => h === start), 60_000, 50)
    for (const d of daemons.slice(1)) await cli(d, ['checkout', 'shared/main'])

    const out: ConsensusHealReport['rounds'] = []
    for (let r = 0; r < rounds; r++) {
      const cut = daemons.slice(nodes - Math.floor(nodes / 2))
      const stay = daemons.slice(0, nodes - cut.length)
      if (lan != null) await lan.split(cut.map(d => d.name))
      else await Promise.all(cut.map(async d => { await d.stop() }))
      // Both sides write: the contested frame everywhere, and one frame of each node's own.
      for (const d of [...stay, ...cut]) {
        await cli(d, ['frame', 'put', '-'], JSON.stringify({ id: 'heal/contested', kind: 'fact', body: `${d.name} round ${r}` }))
        await cli(d, ['frame', 'put', '-'], JSON.stringify({ id: `heal/${d.name}/${r}`, kind: 'fact', body: r }))
        await cli(d, ['commit', '-m', `${d.name} round ${r}`])
      }
      const staying = new Set<string>()
      await until('the connected side agrees', async () => { const hs = await Promise.all(stay.map(head)); staying.clear(); for (const h of hs) staying.add(String(h)); return staying.size === 1 }, 60_000, 50)
      // On a LAN the cut side runs on and agrees within itself too.
      const cutting = new Set<string>()
      if (lan != null) await until('the cut side agrees', async () => { const hs = await Promise.all(cut.map(head)); cutting.clear(); for (const h of hs) cutting.add(String(h)); return cutting.size === 1 }, 60_000, 50)
      const before = new Set([...staying, ...cutting, ...await Promise.all(cut.map(async d => (await cli(d, ['log', 'shared/main', '-n', '1']) as Array<{ commit: string }>)[0]?.commit ?? ''))])
      // Heal.
      const t0 = now()
      mark(`round ${r}: heal`)
      if (lan != null) {
        await lan.heal()
      } else {
        const restarted = await Promise.all(cut.map(async d => await startDaemon(d.name, d.repo, boot)))
        for (const d of restarted) daemons[daemons.findIndex(x => x.name === d.name)] = d
      }
      const ready = now()
      const readyAt = Date.now()
      mark(`round ${r}: ${lan != null ? 'LAN healed' : 'restarted daemons answer'}`)
      let agreed = ''
      // One head on every node, and the one every node decides from what it now knows: a head
      // that all hold for a moment but that a node's next decision replaces (one decided before
      // every vote had arrived) is not the end of the heal.
      await until('every node on one head, the one they decide', async () => {
        const hs = await Promise.all(daemons.map(head))
        agreed = hs[0] ?? ''
        if (!hs.every(h => h != null && h === hs[0] && !before.has(h))) return false
        const decided = await Promise.all(daemons.map(async d => await decisionOf(d)))
        return decided.every(x => x?.head === agreed)
        // Every 100 ms: the clock is the daemons' own (below), and polling five gateways more often
        // would take the CPU the daemons heal with (500 requests a second at 10 ms, on 2 cores).
      }, 120_000, 100)
      // The heal ends when the last daemon moved to the agreed head, by the daemons' own clocks
      // (their event streams): the polling above only confirms it, and lags on a busy machine.
      // A daemon that moved before its stream was followed counts as moving when it was followed.
      const lastMove = Math.max(readyAt, ...daemons.map(d => d.moves.findLast(m => m.to === agreed)?.time ?? d.watchedFrom))
      const healMs = lastMove - readyAt
      const seenMs = now() - ready
      mark(`round ${r}: one head ${agreed}`)
      const decision = await decisionOf(first)
      if (decision?.head !== agreed) throw new Error(`the decision (${decision?.head}) is not the head every node holds (${agreed})`)
      out.push({ partitioned: cut.length, restartMs: round(ready - t0), healMs: round(healMs), seenMs: round(seenMs), head: agreed, maximal: decision.maximal.length, forks: decision.forks.length })
      log(`consensus heal: round ${r}: restart ${round(ready - t0)} ms, heal ${round(healMs)} ms (seen by polling after ${round(seenMs)} ms; ${decision.maximal.length} heads merged, ${decision.forks.length} forks)`)
    }
    const heals = out.map(o => o.healMs)
    const worst = Math.max(...heals)
    return {
      nodes,
      rounds: out,
      healMs: { median: round(median(heals)), max: round(worst) },
      goal: { note: `every partition heals to one head on all ${nodes} daemons in under 2 s (the slowest of ${rounds} rounds, ${lan != null ? 'from the moment the LAN between running daemons is whole again' : 'from the moment the restarted daemons answer'})`, met: worst < 2000, ...(worst < 2000 ? {} : { reason: `slowest heal ${round(worst)} ms, not below 2000` }) }
    }
  } finally {
    await Promise.all(daemons.map(async d => { await d.stop() }))
    if (lan != null) await lan.close()
    await cleanupAll()
  }
}

if (isMain(import.meta.url)) {
  process.stdout.write(JSON.stringify(await benchConsensusHeal(), null, 2) + '\n')
}
