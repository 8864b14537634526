/**
 * MCP over Streamable HTTP beside the plain REST API, in the same run, against the same gateway:
 * sequential round trips (one call in flight) of `recall` (MCP `tools/call`) vs
 * `GET /api/v1/frames/by-id/{id}`, and `remember` vs `POST /api/v1/frames`. The gateway runs in a
 * process of its own (gateway-server.ts framehub REPO); the clients are the SDK's own
 * (`Client` + `StreamableHTTPClientTransport`) and fetch. Rounds alternate which transport goes
 * first, so drift on a shared machine falls on both.
 *
 *   BENCH_MCP_FRAMES (2000)  BENCH_MCP_CALLS (1000: per operation, transport and round)
 *   BENCH_MCP_ROUNDS (4)  BENCH_MCP_WARMUP (200)  BENCH_QUICK=1: tiny sizes
 *
 * Goal: MCP adds under 1 ms at p50 to each operation (p50 of MCP − p50 of REST).
 * Run alone: `node scripts/bench/mcp.ts` (prints one JSON document on stdout).
 */
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { createNode } from '../../src/node.ts'
import { cleanupAll, frameId, generateFrameLines, isMain, log, makeFrame, now, prng, round, tempDir } from './common.ts'
import { allMet, judge, reasonLine } from './goals.ts'
import type { Judged } from './goals.ts'

export interface Latencies {
  calls: number
  callsPerSecond: number
  p50Ms: number
  p99Ms: number
  meanMs: number
}

/** Latencies, and CPU time per call of the gateway's process and of the client's. */
export type TransportReport = Latencies & { serverCpuUsPerCall: number, clientCpuUsPerCall: number }

export interface McpOperationReport {
  rest: TransportReport
  mcp: TransportReport
  /** p50 of MCP minus p50 of REST, ms: what the protocol adds to one round trip. */
  overheadP50Ms: number
  overheadP99Ms: number
  /** Gateway CPU per MCP call minus per REST call, µs: the protocol's cost on the server, whatever the machine's load. */
  serverCpuOverheadUs: number
}

export interface McpReport {
  /** The MCP client: the SDK's own, with a fetch that gives each POST its own abort signal. */
  client: string
  /** 1-minute load average before and after: wall times on a busy machine mean little. */
  loadAverage: [number, number]
  frames: number
  callsPerRound: number
  rounds: number
  recall: McpOperationReport
  remember: McpOperationReport
  goal: { overheadP50MsBelow: number, met: boolean, judged: { recall: Judged, remember: Judged }, reason?: string }
}

const int = (name: string, fallback: number): number => {
  const v = Number(process.env[name])
  return Number.isSafeInteger(v) && v > 0 ? v : fallback
}

function latencies (samples: number[]): Latencies {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  const total = samples.reduce((a, b) => a + b, 0)
  return {
    calls: samples.length,
    callsPerSecond: total > 0 ? Math.round(samples.length / (total / 1000)) : 0,
    p50Ms: round(at(0.5), 3),
    p99Ms: round(at(0.99), 3),
    meanMs: round(total / samples.length, 3)
  }
}

/** framehub's gateway in its own process (gateway-server.ts): its port, its CPU time so far, and stop. */
async function startGateway (repo: string): Promise<{ port: number, cpuUs: () => Promise<number>, stop: () => Promise<void> }> {
  const script = fileURLToPath(new URL('./gateway-server.ts', import.meta.url))
  const child = spawn(process.execPath, [script, 'framehub', repo], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  const waiting: Array<{ type: string, resolve: (m: Record<string, unknown>) => void, reject: (e: Error) => void }> = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    let m: Record<string, unknown>
    try {
      m = JSON.parse(line) as Record<string, unknown>
    } catch {
      return
    }
    const i = waiting.findIndex(w => w.type === m.type || m.type === 'error')
    if (i < 0) return
    const [w] = waiting.splice(i, 1)
    if (m.type === 'error') w?.reject(new Error(`gateway server: ${String(m.message)}`))
    else w?.resolve(m)
  })
  void exited.then(() => { for (const w of waiting.splice(0)) w.reject(new Error('gateway server exited')) })
  const next = async (type: string, command?: string): Promise<Record<string, unknown>> => {
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`gateway server: no "${type}" within 120 s`)) }, 120_000)
      waiting.push({ type, resolve: (m) => { clearTimeout(timer); resolve(m) }, reject: (e) => { clearTimeout(timer); reject(e) } })
    })
    if (command != null) child.stdin.write(command + '\n')
    return await answer
  }
  const { port } = await next('listening') as { port: number }
  return {
    port,
    cpuUs: async () => {
      const m = await next('cpu', 'cpu') as { user: number, system: number }
      return m.user + m.system
    },
    stop: async () => {
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
      child.stdin.write('exit\n')
      await exited
      clearTimeout(timer)
    }
  }
}

/**
 * The SDK client's fetch with a signal of its own per POST: its transport hands every request the
 * one signal of the connection, and undici leaves a listener on it per request until garbage
 * collection, so each call costs more than the last (modelcontextprotocol typescript-sdk; the
 * fix mcphub made, samanhappy/mcphub#1062). An agent with many calls wants the same.
 */
export const isolatingFetch = async (url: string | URL, init?: RequestInit): Promise<Response> => {
  const parent = init?.signal
  // GET (the notification stream) keeps the shared signal: closing the client must end it.
  if (parent == null || init?.method !== 'POST') return await fetch(url, init)
  const own = new AbortController()
  const abort = (): void => { own.abort(parent.reason) }
  if (parent.aborted) abort()
  else parent.addEventListener('abort', abort, { once: true })
  try {
    return await fetch(url, { ...init, signal: own.signal })
  } finally {
    parent.removeEventListener('abort', abort)
  }
}

export async function benchMcp (): Promise<McpReport> {
  const quick = process.env.BENCH_QUICK === '1'
  const frames = int('BENCH_MCP_FRAMES', quick ? 200 : 2000)
  const calls = int('BENCH_MCP_CALLS', quick ? 100 : 1000)
  const rounds = int('BENCH_MCP_ROUNDS', quick ? 2 : 4)
  const warmup = int('BENCH_MCP_WARMUP', quick ? 20 : 200)
  const dir = await tempDir('mcp')
  const repo = join(dir, 'repo')

  log(`mcp: ${frames} frames, ${rounds} rounds of ${calls} calls per operation and transport`)
  const node = await createNode({ repo, create: true })
  const token = node.repo.config.apiToken
  try {
    await node.frames.import(generateFrameLines(frames, 500, 7))
    await node.commits.commit({ message: 'mcp bench' })
  } finally {
    await node.close()
  }

  const load0 = round(loadavg()[0] ?? 0, 2)
  const gateway = await startGateway(repo)
  const base = `http://127.0.0.1:${gateway.port}`
  const auth = { authorization: `Bearer ${token}` }
  const client = new Client({ name: 'framehub-bench', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', base), { requestInit: { headers: auth }, fetch: isolatingFetch }))
  const rand = prng(11)
  let written = 0
  const newFrame = (): Record<string, unknown> => ({ ...makeFrame(rand, written, 500), id: `bench/mcp/${written++}` })
  const someId = (): string => frameId(Math.floor(rand() * frames))

  const check = async (res: Response, status: number): Promise<void> => {
    if (res.status !== status) throw new Error(`REST answered ${res.status}: ${await res.text()}`)
    await res.arrayBuffer()
  }
  const toolOk = (r: unknown): void => {
    if ((r as CallToolResult).isError === true) throw new Error(`MCP tool error: ${JSON.stringify((r as CallToolResult).content)}`)
  }
  type Op = () => Promise<void>
  const ops: Record<'recall' | 'remember', { rest: Op, mcp: Op }> = {
    recall: {
      rest: async () => { await check(await fetch(`${base}/api/v1/frames/by-id/${encodeURIComponent(someId())}`), 200) },
      mcp: async () => { toolOk(await client.callTool({ name: 'recall', arguments: { id: someId() } })) }
    },
    remember: {
      rest: async () => { await check(await fetch(`${base}/api/v1/frames`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(newFrame()) }), 201) },
      mcp: async () => { toolOk(await client.callTool({ name: 'remember', arguments: { frame: newFrame() } })) }
    }
  }

  const report: Partial<Record<'recall' | 'remember', McpOperationReport>> = {}
  try {
    for (const name of ['recall', 'remember'] as const) {
      const samples: Record<'rest' | 'mcp', number[]> = { rest: [], mcp: [] }
      const serverUs = { rest: 0, mcp: 0 }
      const clientUs = { rest: 0, mcp: 0 }
      for (const t of ['rest', 'mcp'] as const) for (let i = 0; i < warmup; i++) await ops[name][t]()
      for (let r = 0; r < rounds; r++) {
        for (const t of r % 2 === 0 ? ['rest', 'mcp'] as const : ['mcp', 'rest'] as const) {
          const server0 = await gateway.cpuUs()
          const client0 = process.cpuUsage()
          for (let i = 0; i < calls; i++) {
            const start = now()
            await ops[name][t]()
            samples[t].push(now() - start)
          }
          const client1 = process.cpuUsage(client0)
          clientUs[t] += client1.user + client1.system
          serverUs[t] += await gateway.cpuUs() - server0
        }
      }
      const n = rounds * calls
      const rest = { ...latencies(samples.rest), serverCpuUsPerCall: Math.round(serverUs.rest / n), clientCpuUsPerCall: Math.round(clientUs.rest / n) }
      const mcp = { ...latencies(samples.mcp), serverCpuUsPerCall: Math.round(serverUs.mcp / n), clientCpuUsPerCall: Math.round(clientUs.mcp / n) }
      report[name] = {
        rest,
        mcp,
        overheadP50Ms: round(mcp.p50Ms - rest.p50Ms, 3),
        overheadP99Ms: round(mcp.p99Ms - rest.p99Ms, 3),
        serverCpuOverheadUs: mcp.serverCpuUsPerCall - rest.serverCpuUsPerCall
      }
      log(`mcp: ${name}: REST p50 ${rest.p50Ms} ms (${rest.callsPerSecond}/s), MCP p50 ${mcp.p50Ms} ms (${mcp.callsPerSecond}/s)`)
    }
  } finally {
    await client.close().catch(() => {})
    await gateway.stop()
  }
  const recall = report.recall as McpOperationReport
  const remember = report.remember as McpOperationReport
  const judged = { recall: judge(recall.overheadP50Ms, { below: 1 }), remember: judge(remember.overheadP50Ms, { below: 1 }) }
  const met = allMet(Object.values(judged))
  return {
    client: '@modelcontextprotocol/sdk Client + StreamableHTTPClientTransport (isolatingFetch)',
    loadAverage: [load0, round(loadavg()[0] ?? 0, 2)],
    frames,
    callsPerRound: calls,
    rounds,
    recall,
    remember,
    goal: { overheadP50MsBelow: 1, met, judged, ...(met ? {} : { reason: reasonLine(judged) }) }
  }
}

if (isMain(import.meta.url)) {
  try {
    const report = await benchMcp()
    process.stdout.write(JSON.stringify(report) + '\n')
  } finally {
    await cleanupAll()
  }
}
