import { createRequire } from 'node:module'
import { initRepo, openRepo, repoExists, resolveRepoPath } from './storage/repo.ts'
import type { OpenRepoOptions, Repo } from './storage/repo.ts'
import { encodeJson, keys } from './storage/state.ts'
import type { ChainRecord, Network, NetworkConfig } from './network/index.ts'
import type { NetworkedHelia } from './network/libp2p.ts'
import { silentLogger } from './network/logger.ts'
import type { Logger } from './network/logger.ts'
import type { ReplicationService } from './services/replication.ts'
import type { SwarmService } from './services/swarm.ts'
import { createServiceComponents } from './services/context.ts'
import type { ServiceComponents } from './services/context.ts'
import type { ConsensusApi, ConsensusService } from './services/consensus.ts'
import type { FingerprintStore } from './services/fingerprints.ts'
import type { CommitService } from './services/commits.ts'
import type { FrameService } from './services/frames.ts'
import type { Refs, RefService } from './services/refs.ts'
import type { SnapshotService } from './services/snapshots.ts'
import type { TraceService } from './services/traces.ts'
import type { SpanImportService } from './services/span-import.ts'
import type { VerifyService } from './services/verify.ts'
import type { EventBus } from './services/events.ts'
import type { FrameIndexService } from './services/frame-index.ts'
import type { PinStore } from './services/pins.ts'
import type { GcOptions, GcResult, GcService } from './services/gc.ts'
import type { AttachmentService } from './services/attachments.ts'
import type { RepoStats } from './services/repo-stats.ts'

/** How to open a node. */
export interface NodeConfig {
  /** Repository directory; default `$FRAMEHUB_REPO`, else `~/.framehub`. */
  repo?: string
  /** Create the repository if there is none (default false: a missing repo is an error). */
  create?: boolean
  /**
   * Join the network (libp2p, chains, sync). Without it the node is offline: nothing listens,
   * Helia reads and writes only the repository.
   */
  network?: Partial<NetworkConfig> & {
    /** Publish commits to `shared/*` branches automatically (default true). */
    autoPublish?: boolean
    /** Coalesce automatic publishing of session heads over this many ms (default 200; 0: off). */
    sessionPublishMs?: number
    /** Largest sync answer accepted, bytes of block data (default 4 GiB). */
    maxSyncBytes?: number
    /** Give up a sync when the peer sends nothing for this long, ms (default 15 s). */
    syncIdleMs?: number
    /** Follow consensus on `shared/*` branches: adopt and publish the canonical head (default true). */
    follow?: boolean
    log?: Logger
  }
  /**
   * Run the node's background work (default false: a one-shot command leaves it to the next
   * query; the daemon turns it on): keep every branch's frame index caught up (`index.start()`)
   * and resume the pin requests an earlier run left queued (`pins.start()`). Stopped by `close`.
   */
  background?: boolean
  /** The pinning service. */
  pins?: {
    /** Longest a pin request may wait on the network for blocks this node lacks, ms (default 5 minutes). */
    fetchTimeoutMs?: number
  }
  /** Where the node reports failed background work (default: `network.log`, else nothing). */
  log?: Logger
}

/** A framehub node: the services the CLI, the gateway and embedding agents all use. */
export interface FramehubNode {
  readonly repo: Repo
  /** The node's identity (libp2p peer id). */
  readonly peerId: string
  readonly frames: FrameService
  /** Branches and REFs; with the node's own reads of a branch's head and a commit's tree. */
  readonly refs: Refs
  readonly commits: CommitService
  readonly traces: TraceService
  /** OpenTelemetry spans (OTLP) into signed trace steps. */
  readonly spans: SpanImportService
  readonly snapshots: SnapshotService
  readonly verifier: VerifyService
  /** Consensus on shared branches: canonical heads, decision records, voting members. */
  readonly consensus: ConsensusService
  /** The frame index behind the list filters: status, catch-up, rebuild. */
  readonly index: FrameIndexService
  /** Garbage collection of unreachable, unpinned blocks. */
  readonly gc: GcService
  /** The pinning service's requests (IPFS Pinning Service API) and the pins they hold. */
  readonly pins: PinStore
  /** Files stored with UnixFS (frame attachments), with the name and media type given at upload. */
  readonly attachments: AttachmentService
  /** Counts and sizes of the repository, for monitoring. */
  readonly stats: RepoStats
  /** What the services wrote, announced after it landed (commits, ref moves, steps, ...). */
  readonly events: EventBus
  /** The node in the swarm (only when opened with `network`). */
  readonly network?: Network
  /** Publishing, sync and remote refs (only when opened with `network`). */
  readonly replication?: ReplicationService
  /** Peers, publishing and sync as the CLI and gateway use them (ERR_NETWORK_OFFLINE when offline). */
  readonly swarm: SwarmService
  close (): Promise<void>
}

/**
 * The services of a node without its repository: what the CLI needs, whether the node is opened
 * in-process (`createNode`) or reached through a running daemon's API (`src/client`).
 */
export type NodeServices = Pick<FramehubNode, 'peerId' | 'frames' | 'commits' | 'traces' | 'spans' | 'snapshots' | 'verifier' | 'swarm' | 'close'> & {
  readonly refs: RefService
  /** Consensus (JSON documents, as the API answers them). */
  readonly consensus: ConsensusApi
  /** Garbage collection; over the API only the counts of `GcResult` travel. */
  readonly gc: { gc (options?: GcOptions): Promise<Pick<GcResult, 'removed' | 'kept' | 'bytesFreed' | 'dryRun'>> }
  /** The frame index's maintenance: where each branch's index stands, and rebuilding it. */
  readonly index: Pick<FrameIndexService, 'status' | 'rebuild'>
  /** What the node writes, as it lands; through a daemon, its event stream (`GET /api/v1/events`). */
  readonly events: Pick<EventBus, 'subscribe'>
}

/** The network layers of a node that joins the network. */
interface Networking {
  config: NetworkConfig
  module: typeof import('./network/index.ts')
}

/**
 * Loads the network layers only for a node that joins the network: libp2p, OrbitDB and their
 * dependencies are about 1,500 of the 1,900 modules of a node, most of a one-shot CLI command's
 * start-up (`frame import`, `commit`), which never uses them.
 */
async function networking (config: NodeConfig): Promise<Networking | undefined> {
  if (config.network == null) return undefined
  const module = await import('./network/index.ts')
  return { config: module.networkConfig(config.network), module }
}

/** Creates a new repository at `config.repo` and opens a node on it; refuses if one exists. */
export async function initNode (config: NodeConfig = {}): Promise<FramehubNode> {
  const net = await networking(config)
  return await wire(await initRepo(resolveRepoPath(config.repo), repoOptions(net)), config, net)
}

/** Opens the node on an existing repository (or creates it with `create: true`). */
export async function createNode (config: NodeConfig = {}): Promise<FramehubNode> {
  const path = resolveRepoPath(config.repo)
  const net = await networking(config)
  const options = repoOptions(net)
  const repo = config.create === true && !repoExists(path) ? await initRepo(path, options) : await openRepo(path, options)
  return await wire(repo, config, net)
}

function repoOptions (net: Networking | undefined): OpenRepoOptions {
  return net != null ? { heliaLayers: (helia, key) => net.module.withNetwork(net.config, key)(helia) } : {}
}

/**
 * A service module, loaded when a node first uses it. `require` of an ES module (Node >= 22.12)
 * is synchronous, so the node's services stay plain properties; a one-shot command loads only
 * the services it calls (`init` none of them, `frame import` the frame and ref services), not
 * the hundred-odd modules of them all. The same module instance as a static `import` would load.
 */
const load = createRequire(import.meta.url)
/** `.ts` in the sources, `.js` in the built package (dist/). */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
function services<T> (name: string): T {
  return load(`./services/${name}${EXT}`) as T
}

/** `make()`'s result, made on the first call (`made` says whether it was). */
interface Lazy<T> {
  (): T
  readonly made: boolean
}

function once<T> (make: () => T): Lazy<T> {
  let made: { value: T } | undefined
  const get = (): T => (made ??= { value: make() }).value
  return Object.defineProperty(get, 'made', { get: () => made !== undefined }) as Lazy<T>
}

/** Builds the services on first use, each from the ones it needs. */
function lazyServices (components: ServiceComponents, log: Logger) {
  const s = {
    refs: once((): Refs => services<typeof import('./services/refs.ts')>('refs').createRefService(components)),
    snapshots: once((): SnapshotService => services<typeof import('./services/snapshots.ts')>('snapshots').createSnapshotService(components, s.refs())),
    verifier: once((): VerifyService => services<typeof import('./services/verify.ts')>('verify').createVerifyService(components, s.refs())),
    fingerprints: once((): FingerprintStore => services<typeof import('./services/fingerprints.ts')>('fingerprints').createFingerprintStore(components)),
    consensus: once((): ConsensusService => services<typeof import('./services/consensus.ts')>('consensus').createConsensusService(components, { refs: s.refs(), fingerprints: s.fingerprints() })),
    index: once((): FrameIndexService => {
      const { db, blocks, exclusive, events } = components
      return services<typeof import('./services/frame-index.ts')>('frame-index').createFrameIndexService({ db, blocks, exclusive, refs: s.refs(), events, log })
    }),
    // The frame index loads with the first filtered list, and consensus when a read asks whether
    // a frame is confirmed, not with every frame service (`frame import` uses neither).
    frames: once((): FrameService => services<typeof import('./services/frames.ts')>('frames').createFrameService(components, s.refs(),
      { list: (options) => s.index().list(options) },
      async (branch, id, cid, options) => await s.consensus().confirmed(branch, id, cid, options))),
    commits: once((): CommitService => services<typeof import('./services/commits.ts')>('commits').createCommitService(components, s.refs())),
    traces: once((): TraceService => services<typeof import('./services/traces.ts')>('traces').createTraceService(components)),
    spans: once((): SpanImportService => services<typeof import('./services/span-import.ts')>('span-import').createSpanImportService({
      ...components,
      resolveFrame: async (ref, options) => (await s.frames().get(ref, options)).cid
    })),
    gc: once((): GcService => {
      const gc = services<typeof import('./services/gc.ts')>('gc')
      return gc.createGcService(components)
    }),
    attachments: once((): AttachmentService => services<typeof import('./services/attachments.ts')>('attachments').createAttachmentService(components)),
    stats: once((): RepoStats => services<typeof import('./services/repo-stats.ts')>('repo-stats').createRepoStats({ ...components, refs: s.refs() }))
  }
  return s
}

/** The one place where the services are wired together. */
async function wire (repo: Repo, config: NodeConfig, net: Networking | undefined): Promise<FramehubNode> {
  const components = createServiceComponents(repo)
  const log = config.log ?? config.network?.log ?? silentLogger
  const s = lazyServices(components, log)
  let network: Network | undefined
  let replication: ReplicationService | undefined
  if (net != null) {
    const log = config.network?.log ?? silentLogger
    try {
      const helia = await repo.helia() as NetworkedHelia
      network = await net.module.startNetwork({
        helia,
        config: net.config,
        signer: repo.signer,
        blocks: repo.blocks,
        directory: net.module.orbitDirectory(repo.path),
        log,
        records: async () => {
          const out: Array<{ peer: string, record: ChainRecord }> = []
          for await (const [peer] of repo.state.scan(keys.chainPrefix)) {
            const record = await repo.state.json<ChainRecord>(keys.chain(peer))
            if (record != null) out.push({ peer, record })
          }
          return out
        },
        saveRecord: async (peer, record) => { await repo.batch().putState(keys.chain(peer), encodeJson(record)).write() }
      })
      const { createReplicationService } = services<typeof import('./services/replication.ts')>('replication')
      replication = createReplicationService(components, { refs: s.refs(), snapshots: s.snapshots(), verifier: s.verifier(), consensus: s.consensus(), fingerprints: s.fingerprints() }, network, {
        follow: config.network?.follow,
        autoPublish: config.network?.autoPublish,
        sessionPublishMs: config.network?.sessionPublishMs,
        maxSyncBytes: config.network?.maxSyncBytes,
        syncIdleMs: config.network?.syncIdleMs,
        log
      })
    } catch (err) {
      await network?.stop().catch(() => {})
      await repo.close()
      throw err
    }
  }
  const { events } = components
  // Pin requests use the network when there is one: built once the network is up.
  const pins = once((): PinStore => services<typeof import('./services/pins.ts')>('pins').createPinStore({
    state: repo.db.state,
    blocks: repo.blocks,
    helia: async () => await repo.helia(),
    events,
    network,
    replication
  }, { fetchTimeoutMs: config.pins?.fetchTimeoutMs }))
  if (config.background === true) {
    s.index().start()
    pins().start().catch((err: unknown) => { log.warn({ err }, 'resuming queued pin requests failed') })
  }
  const swarm = once((): SwarmService => services<typeof import('./services/swarm.ts')>('swarm').createSwarmService(network, replication))
  return {
    repo,
    peerId: repo.peerId,
    get frames () { return s.frames() },
    get refs () { return s.refs() },
    get commits () { return s.commits() },
    get traces () { return s.traces() },
    get spans () { return s.spans() },
    get snapshots () { return s.snapshots() },
    get verifier () { return s.verifier() },
    get consensus () { return s.consensus() },
    get index () { return s.index() },
    get gc () { return s.gc() },
    get pins () { return pins() },
    get attachments () { return s.attachments() },
    get stats () { return s.stats() },
    events,
    network,
    replication,
    get swarm () { return swarm() },
    close: async () => {
      // Background work first: pin fetches use the network, catch-ups the repository.
      if (pins.made) await pins().close()
      if (s.index.made) await s.index().close()
      await replication?.stop()
      await network?.stop()
      await repo.close()
    }
  }
}
