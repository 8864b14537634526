/* eslint-disable no-new -- prom-client metrics register themselves in the registry they are built with */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { FramehubNode } from '../../node.ts'
import type { EventBus } from '../../services/events.ts'
import type { StreamSlots } from './streams.ts'

export interface GatewayMetrics {
  readonly registry: Registry
}

/**
 * Prometheus metrics of one gateway, in its own registry (two gateways in one process do not
 * clash): request latency per route, what the gateway's routes wrote (from the event bus), and a
 * few gauges read from the repository when scraped.
 */
export function registerMetrics (app: FastifyInstance, node: FramehubNode, events: EventBus, streams: StreamSlots): GatewayMetrics {
  const registry = new Registry()
  // prom-client's names already start with process_ or nodejs_: framehub_process_cpu_seconds_total, ...
  collectDefaultMetrics({ register: registry, prefix: 'framehub_' })

  const duration = new Histogram({
    name: 'framehub_http_request_duration_seconds',
    help: 'HTTP request latency by route (the route pattern, not the URL) and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 10],
    registers: [registry]
  })
  const written = new Counter({
    name: 'framehub_events_total',
    help: 'Writes made through this gateway, by event type (frame:put, commit, step:append, ...)',
    labelNames: ['type'] as const,
    registers: [registry]
  })
  new Gauge({
    name: 'framehub_event_stream_clients',
    help: 'Open Server-Sent Events streams (GET /api/v1/events)',
    registers: [registry],
    collect () { this.set(streams.open) }
  })
  new Gauge({
    name: 'framehub_branches',
    help: 'Branches in the repository',
    registers: [registry],
    async collect () { this.set((await node.refs.listBranches()).length) }
  })
  // Read from the repository when scraped.
  const readGauge = (name: string, help: string, read: () => Promise<number>): Gauge => new Gauge({
    name,
    help,
    registers: [registry],
    async collect () { this.set(await read()) }
  })
  // Frames and commits: counted once, then kept up to date from what changed (services/repo-counts.ts).
  // Two gauges read one count: a scrape collects them together, and the second finds nothing new.
  const { stats } = node
  const counts = stats.counts
  new Gauge({
    name: 'framehub_frames',
    help: 'Frames in the tree of each branch head (committed frames)',
    labelNames: ['branch'] as const,
    registers: [registry],
    async collect () {
      const { frames } = await counts()
      this.reset()
      for (const [branch, n] of frames) this.set({ branch }, n)
    }
  })
  new Gauge({
    name: 'framehub_commits',
    help: 'Distinct commits reachable from the branches',
    registers: [registry],
    async collect () { this.set((await counts()).commits) }
  })
  readGauge('framehub_blocks_bytes', 'Approximate on-disk size of the stored blocks (LevelDB estimate; data not yet compacted to disk counts later)', stats.blocksBytes)
  readGauge('framehub_sessions', 'Reasoning sessions in the repository', stats.sessions)
  readGauge('framehub_pins', 'Pin requests recorded by the pinning service API', stats.pins)
  new Gauge({
    name: 'framehub_index_lag',
    help: 'Branches whose frame index does not describe the branch head (0 normally: ref moves update the index in the same atomic write; a change too big for one write, or an index to rebuild, counts until the next filtered query catches it up)',
    registers: [registry],
    async collect () {
      this.set((await node.index.status()).filter(s => !s.current).length)
    }
  })
  readGauge('framehub_store_bytes', 'Approximate on-disk size of the repository store (LevelDB estimate)', stats.storeBytes)
  // The network (only a networked node has peers, chains and syncs; the series read 0 otherwise).
  new Gauge({
    name: 'framehub_peers',
    help: 'Connected libp2p peers',
    registers: [registry],
    collect () { this.set(node.network?.peers().length ?? 0) }
  })
  // Consensus, from the last decision on each shared branch (the network's own targets: convergence
  // ≥ 90%, frame conflict rate ≤ 5%).
  const decided = (read: (d: { convergence: number, conflictRate: number, candidates: number }) => number) => function (this: Gauge<'branch'>): void {
    this.reset()
    for (const [branch, d] of node.consensus.latest()) this.set({ branch }, read(d))
  }
  new Gauge({ name: 'framehub_consensus_convergence', help: 'Share of voting nodes whose proposal is the canonical head, at the last decision on the branch', labelNames: ['branch'], registers: [registry], collect: decided(d => d.convergence) })
  new Gauge({ name: 'framehub_frame_conflict_rate', help: 'Forks over merged frame states of the canonical head, at the last decision on the branch', labelNames: ['branch'], registers: [registry], collect: decided(d => d.conflictRate) })
  new Gauge({ name: 'framehub_consensus_candidates', help: 'Candidate heads at the last decision on the branch', labelNames: ['branch'], registers: [registry], collect: decided(d => d.candidates) })
  // Routes per session (the network's target: ≥ 3 parallel routes kept for one goal): sessions
  // appended to since the node started are counted again when scraped (at most 32 per scrape,
  // routes counted up to 1000 each).
  const routes = new Map<string, number>()
  const touched = new Set<string>()
  // The two gauges are collected together: they share one count.
  let counting: Promise<void> | undefined
  const countRoutes = async (): Promise<void> => {
    counting ??= (async () => {
      for (const session of [...touched].slice(0, 32)) {
        touched.delete(session)
        routes.set(session, (await node.traces.routes(session, { limit: 1000 }).catch(() => [])).length)
      }
    })().finally(() => { counting = undefined })
    await counting
  }
  new Gauge({
    name: 'framehub_session_routes_max',
    help: 'Most routes (root to head) of one session, over the sessions appended to since the node started',
    registers: [registry],
    async collect () { await countRoutes(); this.set(Math.max(0, ...routes.values())) }
  })
  new Gauge({
    name: 'framehub_session_routes_mean',
    help: 'Mean routes per session, over the sessions appended to since the node started',
    registers: [registry],
    async collect () { await countRoutes(); this.set(routes.size === 0 ? 0 : [...routes.values()].reduce((a, b) => a + b, 0) / routes.size) }
  })
  const syncBlocks = new Counter({ name: 'framehub_sync_blocks_total', help: 'Blocks received by framehub sync (or the bitswap fallback), checked and made visible', registers: [registry] })
  const syncBytes = new Counter({ name: 'framehub_sync_bytes_total', help: 'Bytes of block data received by sync', registers: [registry] })
  const syncSeconds = new Histogram({
    name: 'framehub_sync_duration_seconds',
    help: 'Time of one sync: request, CAR stream, checks, visible (labelled by who answered: a peer, or bitswap)',
    labelNames: ['via'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry]
  })
  const published = new Counter({ name: 'framehub_chain_entries_published_total', help: 'Entries this node appended to its chain', registers: [registry] })
  events.subscribe(event => {
    written.inc({ type: event.type })
    if (event.type === 'sync:done') {
      const d = event.detail as { peer: string, blocks: number, bytes: number, ms: number }
      syncBlocks.inc(d.blocks)
      syncBytes.inc(d.bytes)
      syncSeconds.observe({ via: d.peer === 'bitswap' ? 'bitswap' : 'sync' }, d.ms / 1000)
    } else if (event.type === 'step:append') {
      touched.add((event.detail as { session: string }).session)
    } else if (event.type === 'publish') {
      published.inc()
    }
  })

  // Fastify times every request itself (reply.elapsedTime, ms since it arrived): no onRequest
  // hook, and callback hooks rather than async ones (no promise per request). The route pattern
  // is bound into a hook of each route as it is added, rather than read per request from
  // `request.routeOptions` (an object Fastify builds on every read); requests that matched no
  // route are counted by one global hook. Label sets are resolved once per route, method and
  // status, not hashed on every request.
  const timer = (route: string): ((request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void) => {
    const children = new Map<string, Histogram.Internal<'method' | 'route' | 'status_code'>>()
    return (request, reply, done) => {
      const key = `${request.method} ${reply.statusCode}`
      let child = children.get(key)
      if (child === undefined) {
        child = duration.labels({ method: request.method, route, status_code: String(reply.statusCode) })
        children.set(key, child)
      }
      child.observe(reply.elapsedTime / 1000)
      done()
    }
  }
  app.addHook('onRoute', (route) => {
    const hooks = route.onResponse
    const own = timer(route.url ?? route.path)
    route.onResponse = hooks == null ? [own] : [...(Array.isArray(hooks) ? hooks : [hooks]), own]
  })
  const unmatched = timer('unmatched')
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched(request, reply, done)
    else done()
  })

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const text = await registry.metrics()
    return await reply.type(registry.contentType).send(text)
  })
  return { registry }
}
