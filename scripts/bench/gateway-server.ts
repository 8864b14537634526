/**
 * The server side of the gateway benchmark, one process per server so the load generator
 * (gateway.ts, the parent) never shares an event loop with it:
 *
 *   node gateway-server.ts hello [BYTES]    a hello-world Fastify 5 route (the ceiling); also, at
 *                                           /shaped/{cid}, a fixed body of BYTES bytes (default 600)
 *                                           with the headers of a raw-block answer (the ceiling for
 *                                           that response shape: same bytes on the wire, no work)
 *   node gateway-server.ts helia REPO       a bare Fastify route serving raw blocks through Helia (the stock anchor)
 *   node gateway-server.ts framehub REPO    framehub's gateway (createGateway, no logger, no rate limit)
 *
 * It listens on 127.0.0.1, port 0, and talks to the parent in lines of JSON: on stdout it says
 * `{"type":"listening","port":N}`, then answers the commands it reads on stdin:
 *   mem-start             starts sampling process.memoryUsage() every second (clears older samples)
 *   mem-stop              replies {"type":"memory","samples":[{t,rss,heapUsed},...]} (t in ms)
 *   prof-start            starts the V8 CPU profiler (the sampler of --cpu-prof, via node:inspector)
 *   prof-stop FILE        stops it, writes the .cpuprofile to FILE, replies {"type":"profile"}
 *   gc                    runs a full garbage collection, replies {"type":"gc","heapUsed":bytes,"rss":bytes}
 *   cpu                   replies {"type":"cpu","user":µs,"system":µs}: process.cpuUsage() so far (all threads)
 *   exit                  closes the server (and node), replies {"type":"closed"}, exits
 * When stdin ends (the parent is gone, even killed) it exits too; a watchdog ends it after
 * BENCH_SERVER_MAX_MIN minutes (default 60) whatever happens.
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { createInterface } from 'node:readline'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { CID } from 'multiformats/cid'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { collectGarbage } from './common.ts'

export type ServerMode = 'hello' | 'helia' | 'framehub'

export interface MemorySample {
  /** ms since mem-start. */
  t: number
  rss: number
  heapUsed: number
}

export type ServerMessage =
  | { type: 'listening', port: number, pid: number }
  | { type: 'memory', samples: MemorySample[] }
  | { type: 'profile' }
  | { type: 'cpu', user: number, system: number }
  | { type: 'gc', heapUsed: number, rss: number }
  | { type: 'closed' }
  | { type: 'error', message: string }

const RAW_TYPE = 'application/vnd.ipld.raw'

const send = (message: ServerMessage): void => { process.stdout.write(JSON.stringify(message) + '\n') }

/** Hello world, on the same path shape as the gateway so the load generator does the same work. */
function helloServer (bodyBytes: number): FastifyInstance {
  const app = Fastify({ logger: false })
  const hello = async (): Promise<{ hello: string }> => ({ hello: 'world' })
  app.get('/', hello)
  app.get('/ipfs/:cid', hello)
  // The response of a raw block without reading one: the same headers and about the same body size.
  const body = Buffer.alloc(bodyBytes, 0x61)
  app.get<{ Params: { cid: string } }>('/shaped/:cid', async (request, reply) => {
    const cid = request.params.cid
    return await reply
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'Accept')
      .header('etag', `"${cid}.raw"`)
      .header('cache-control', 'public, max-age=29030400, immutable')
      .header('x-ipfs-path', `/ipfs/${cid}`)
      .header('x-ipfs-roots', cid)
      .header('content-disposition', `attachment; filename="${cid}.bin"`)
      .header('content-length', body.byteLength)
      .header('content-location', `/ipfs/${cid}?format=raw`)
      .type(RAW_TYPE)
      .send(body)
  })
  return app
}

/**
 * The stock anchor: one Fastify route over Helia's blockstore (helia 7: `get` yields the block in
 * chunks; `offline: true` so a missing block is an error, never a network wait).
 */
async function heliaServer (node: FramehubNode): Promise<FastifyInstance> {
  const helia = await node.repo.helia()
  const app = Fastify({ logger: false })
  app.get<{ Params: { cid: string } }>('/ipfs/:cid', async (request, reply) => {
    let cid: CID
    try {
      cid = CID.parse(request.params.cid)
    } catch {
      return await reply.code(400).send({ error: 'bad CID' })
    }
    const chunks: Uint8Array[] = []
    try {
      for await (const chunk of helia.blockstore.get(cid, { offline: true })) chunks.push(chunk)
    } catch {
      return await reply.code(404).send({ error: 'not found' })
    }
    const bytes = chunks.length === 1 ? chunks[0] as Uint8Array : Buffer.concat(chunks)
    return await reply.type(RAW_TYPE).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  })
  return app
}

async function main (): Promise<void> {
  const [mode, repo] = process.argv.slice(2) as [string | undefined, string | undefined]
  if (mode !== 'hello' && mode !== 'helia' && mode !== 'framehub') throw new Error('usage: gateway-server.ts hello|helia|framehub [REPO]')
  if (mode !== 'hello' && repo == null) throw new Error(`gateway-server.ts ${mode} needs a repository`)
  const bodyBytes = mode === 'hello' && repo != null ? Number(repo) : 600

  const watchdog = setTimeout(() => { process.exit(3) }, Number(process.env.BENCH_SERVER_MAX_MIN ?? 60) * 60_000)
  watchdog.unref()

  const node = repo != null && mode !== 'hello' ? await createNode({ repo }) : undefined
  let app: FastifyInstance
  if (mode === 'hello') app = helloServer(bodyBytes)
  else if (mode === 'helia') app = await heliaServer(node as FramehubNode)
  else app = await createGateway(node as FramehubNode, { logger: false, rateLimit: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address == null || typeof address === 'string') throw new Error('no TCP address')

  let samples: MemorySample[] = []
  let sampler: NodeJS.Timeout | undefined
  let started = 0
  const sample = (): void => {
    const { rss, heapUsed } = process.memoryUsage()
    samples.push({ t: Math.round(performance.now() - started), rss, heapUsed })
  }
  let session: Session | undefined

  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      if (sampler !== undefined) clearInterval(sampler)
      session?.disconnect()
      await app.close()
      await node?.close()
    })()
    await closing
  }

  send({ type: 'listening', port: address.port, pid: process.pid })

  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    const [command, arg] = line.trim().split(/\s+/, 2)
    try {
      if (command === 'mem-start') {
        if (sampler !== undefined) clearInterval(sampler)
        samples = []
        started = performance.now()
        sample()
        sampler = setInterval(sample, 1000)
      } else if (command === 'mem-stop') {
        if (sampler !== undefined) clearInterval(sampler)
        sampler = undefined
        sample()
        send({ type: 'memory', samples })
      } else if (command === 'prof-start') {
        session = new Session()
        session.connect()
        await session.post('Profiler.enable')
        await session.post('Profiler.setSamplingInterval', { interval: 250 })
        await session.post('Profiler.start')
      } else if (command === 'prof-stop') {
        if (session === undefined || arg == null) throw new Error('prof-stop FILE, after prof-start')
        const { profile } = await session.post('Profiler.stop')
        await writeFile(arg, JSON.stringify(profile))
        session.disconnect()
        session = undefined
        send({ type: 'profile' })
      } else if (command === 'gc') {
        await collectGarbage()
        const { heapUsed, rss } = process.memoryUsage()
        send({ type: 'gc', heapUsed, rss })
      } else if (command === 'cpu') {
        const { user, system } = process.cpuUsage()
        send({ type: 'cpu', user, system })
      } else if (command === 'exit') {
        break
      } else if (command !== '') {
        throw new Error(`unknown command "${command}"`)
      }
    } catch (err) {
      send({ type: 'error', message: (err as Error).message })
    }
  }
  // stdin ended or "exit": either way the parent is done with this server.
  await close()
  send({ type: 'closed' })
}

try {
  await main()
  process.exit(0)
} catch (err) {
  process.stderr.write(`gateway-server: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
}
