import { join } from 'node:path'
import type { Connection, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import type { ChainEntry, UnsignedChainEntry } from '../core/chain-entry.ts'
import { verifyBlock } from '../core/block.ts'
import { carStream, readCar } from '../core/car.ts'
import { walkClosure } from '../core/closure.ts'
import type { ManyReader } from '../core/closure.ts'
import { PeerUnreachableError, UsageError } from '../core/errors.ts'
import { fetchedOptions } from '../core/fetched.ts'
import type { Signer } from '../core/signing.ts'
import type { BlockReader } from '../core/tree/index.ts'
import { openChains } from './chains.ts'
import type { ChainRecord } from './chains.ts'
import { checkMultiaddr } from './config.ts'
import type { NetworkConfig } from './config.ts'
import type { NetworkedHelia } from './libp2p.ts'
import type { Logger } from './logger.ts'
import { HEADS_PROTOCOL, sendHeads, serveHeads } from './heads.ts'
import { startPeerKeeper } from './keeper.ts'
import { startRoster } from './roster.ts'
import { fetchMissing } from './sync/client.ts'
import type { FetchOptions } from './sync/client.ts'
import type { SyncTrailer } from './sync/protocol.ts'
import { SYNC_PROTOCOL } from './sync/protocol.ts'
import { serveSync } from './sync/server.ts'

export type { NetworkConfig } from './config.ts'
export { networkConfig } from './config.ts'
export { withNetwork } from './libp2p.ts'
export type { ChainRecord } from './chains.ts'

export interface PeerInfo {
  peer: string
  addrs: string[]
  /** Peers whose chain this node follows (same network). */
  chain?: string
  /** Round-trip latency of the last ping, ms (when known). */
  latencyMs?: number
}

export interface NetworkComponents {
  helia: NetworkedHelia
  config: NetworkConfig
  signer: Signer
  /** Where the node's blocks are read when answering sync requests. */
  blocks: BlockReader & ManyReader & { has: (cid: CID) => Promise<boolean> }
  /** Directory for OrbitDB's own stores (keystore, log heads and index). */
  directory: string
  log: Logger
  /** Known chains from earlier runs. */
  records: () => Promise<Array<{ peer: string, record: ChainRecord }>>
  saveRecord: (peer: string, record: ChainRecord) => Promise<void>
}

export interface Network {
  readonly peerId: string
  readonly config: NetworkConfig
  /** This node's chain address. */
  readonly chain: string
  /** Addresses this node listens on (with /p2p/ID, ready to give to another node's --bootstrap). */
  addresses (): string[]
  peers (): PeerInfo[]
  connect (address: string, options?: { signal?: AbortSignal }): Promise<PeerInfo>
  disconnect (peer: string): Promise<void>
  /** Asks peers (the preferred ones first) for what this node lacks of `want`. */
  fetch (want: CID, have: CID[], options?: FetchOptions & { from?: string[] }): Promise<{ peer: string, car: AsyncIterable<Uint8Array>, trailer: Promise<SyncTrailer> }>
  /**
   * The fallback when no peer speaks framehub sync: what this node lacks of the closure of `want`,
   * fetched block by block with bitswap (from any peer, stock IPFS nodes included), as a CAR
   * stream. Fetched blocks stay invisible (Helia keeps them apart) until they are imported.
   */
  bitswapCar (want: CID, options?: { signal?: AbortSignal }): AsyncIterable<Uint8Array>
  /**
   * With `public`, announces on the Amino DHT that this node provides `cid` (in the background;
   * failures are logged). Without it, does nothing: a private swarm announces nothing.
   */
  provide (cid: CID): void
  /** Appends to this node's chain. */
  publish (entry: UnsignedChainEntry): Promise<ChainEntry>
  ownEntries (limit?: number): Promise<ChainEntry[]>
  /** Called with each peer's new chain entries (set once, by the replication service). */
  onChainEntries (handler: (peer: string, entries: ChainEntry[]) => Promise<void>): void
  /** Called when a peer connects (to retry what waited for it). */
  onPeerConnect (handler: (peer: string) => void): void
  stop (): Promise<void>
}

/** Longest time the newest chain entries may take to reach a peer that connected. */
const HEADS_TIMEOUT_MS = 5000

/** A block that bitswap cannot find within this long fails the fallback fetch. */
const BITSWAP_BLOCK_TIMEOUT_MS = 30_000

/** How often peers (named by --bootstrap, or heard of on the network) are redialled while they are away. */
const REDIAL_MS = 500
/** Longest time one of those dials may take. */
const DIAL_TIMEOUT_MS = 15_000
/** Longest time one of those dials waits for its TCP connection before a fresh attempt (`PeerKeeperInit.connectTimeoutMs`). */
const CONNECT_TIMEOUT_MS = 500
/** A connected peer not heard on the roster for this long (3 of its announcements) is reconnected. */
const STALE_PEER_MS = 15_000
/** A peer not heard of for this long is no longer redialled (bootstrap peers always are). */
const FORGET_PEER_MS = 60 * 60_000
/** A node's announced addresses, unchanged, are merged into the peer store again after this long. */
const REMERGE_MS = 60_000
/** No new peer is dialled beyond this many connections. */
const MAX_KEPT_PEERS = 64

/** Starts the network parts of a node on its already started, networked Helia. */
export async function startNetwork (components: NetworkComponents): Promise<Network> {
  const { helia, config, signer, log } = components
  const libp2p = helia.libp2p
  let entriesHandler: ((peer: string, entries: ChainEntry[]) => Promise<void>) | undefined
  const pendingEntries: Array<[string, ChainEntry[]]> = []
  const connectHandlers: Array<(peer: string) => void> = []

  log.debug({ peer: signer.id, addrs: libp2p.getMultiaddrs().map(String) }, 'network starting')
  await libp2p.handle(SYNC_PROTOCOL, async (stream, connection) => {
    await serveSync(stream, connection, { blocks: components.blocks, log })
  }, { maxInboundStreams: 64, runOnLimitedConnection: false })

  const chains = await openChains({
    helia,
    pubsub: libp2p.services.pubsub,
    fetchBlock: async (peer, hash, signal) => {
      const cid = CID.parse(hash)
      const { car } = await fetchMissing(libp2p, peerIdFromString(peer), cid, [], { signal })
      const contents = await readCar(car)
      if (contents.version !== 1) return false
      for await (const batch of contents.batches) {
        for (const block of batch) {
          if (!block.cid.equals(cid)) continue
          verifyBlock(cid, block.bytes)
          await helia.blockstore.put(cid, block.bytes)
          return true
        }
      }
      return false
    },
    blocks: {
      has: async (cid) => await helia.blockstore.has(cid),
      get: async (cid) => {
        const chunks: Uint8Array[] = []
        for await (const chunk of helia.blockstore.get(cid, { offline: true } as Parameters<typeof helia.blockstore.get>[1])) chunks.push(chunk)
        return chunks.length === 1 ? chunks[0] as Uint8Array : Buffer.concat(chunks)
      },
      put: async (cid, bytes) => { await helia.blockstore.put(cid, bytes) }
    },
    directory: components.directory,
    network: config.network,
    signer,
    log,
    onEntries: async (peer, entries) => {
      if (entriesHandler == null) { pendingEntries.push([peer, entries]); return }
      await entriesHandler(peer, entries)
    },
    saveRecord: components.saveRecord
  })
  await libp2p.handle(HEADS_PROTOCOL, async (stream, connection) => {
    await serveHeads(stream, connection, { onEntries: async (peer, entries) => { await chains.offered(peer, entries) }, log })
  }, { maxInboundStreams: 4, runOnLimitedConnection: false })
  const follow = (peer: string, address: string): void => {
    chains.follow(peer, { address }).catch((err: unknown) => {
      log.warn({ peer, chain: address, err: (err as Error).message }, 'cannot open a peer chain')
    })
  }
  // Peers named by --bootstrap, and every node heard on the roster, are kept connected.
  const keeper = startPeerKeeper({ libp2p, bootstrap: config.bootstrap.map(a => multiaddr(a)), everyMs: REDIAL_MS, dialTimeoutMs: DIAL_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS, staleMs: STALE_PEER_MS, forgetMs: FORGET_PEER_MS, maxPeers: MAX_KEPT_PEERS, log })
  // The peers whose chains this node followed before it stopped are dialled at once, at the
  // addresses the peer store kept: a node that comes back reaches every peer that still listens
  // where it did, instead of waiting to hear of them on the roster through the bootstrap peer.
  for (const { peer, record } of await components.records()) {
    keeper.heard(peer, true)
    chains.follow(peer, record).catch((err: unknown) => { log.warn({ peer, err: (err as Error).message }, 'cannot reopen a peer chain') })
  }
  /** The addresses last merged into the peer store, by node, and when. */
  const merged = new Map<string, { key: string, at: number }>()
  const roster = startRoster({
    pubsub: libp2p.services.pubsub,
    network: config.network,
    signer,
    chain: chains.address,
    addrs: () => libp2p.getMultiaddrs().map(a => a.toString()),
    head: async () => await chains.head(),
    log,
    onPeer: (entry) => {
      // Remember where it listens: a sync can then go straight to the node that published.
      // The same addresses again (every announcement names them) are merged at most every
      // REMERGE_MS: a merge reads, decodes and compares the peer's record, and a partition that
      // heals brings a burst of announcements.
      const addrs = entry.addrs.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      const key = entry.addrs.join(' ')
      const last = merged.get(entry.node)
      if (addrs.length > 0 && (last?.key !== key || Date.now() - last.at > REMERGE_MS)) {
        merged.set(entry.node, { key, at: Date.now() })
        if (merged.size > MAX_KEPT_PEERS * 4) merged.delete(merged.keys().next().value as string)
        libp2p.peerStore.merge(peerIdFromString(entry.node), { multiaddrs: addrs })
          .then(() => { keeper.heard(entry.node) }, () => { merged.delete(entry.node) })
      } else if (addrs.length > 0) {
        keeper.heard(entry.node)
      }
      const known = chains.followed().find(f => f.peer === entry.node)
      if (known?.address !== entry.chain) follow(entry.node, entry.chain)
      // A chain still opening catches up with this head once it is open (a new chain of a known
      // peer is read whole once open).
      if (entry.head != null && (known == null || known.address === entry.chain)) {
        chains.catchUp(entry.node, entry.head).catch((err: unknown) => { log.debug({ peer: entry.node, err: (err as Error).message }, 'catching up with a chain failed') })
      }
    }
  })

  const onConnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    log.debug({ peer }, 'peer connected')
    // The newest entry of every chain held here goes to the peer at once (heads.ts).
    chains.newest()
      .then(async (entries) => { await sendHeads(libp2p, evt.detail, entries, AbortSignal.timeout(HEADS_TIMEOUT_MS)) })
      .catch((err: unknown) => { log.debug({ peer, err: (err as Error).message }, 'sending heads to a peer failed') })
    roster.connected()
    for (const h of connectHandlers) h(peer)
  }
  libp2p.addEventListener('peer:connect', onConnect)
  log.debug({ chain: chains.address }, 'network started')

  const info = (peer: PeerId, connections: Connection[]): PeerInfo => {
    const followed = chains.followed().find(f => f.peer === peer.toString())
    return {
      peer: peer.toString(),
      addrs: connections.map(c => c.remoteAddr.toString()),
      ...(followed != null ? { chain: followed.address } : {}),
      ...(connections[0]?.rtt != null ? { latencyMs: connections[0].rtt } : {})
    }
  }

  return {
    peerId: signer.id,
    config,
    chain: chains.address,
    addresses: () => libp2p.getMultiaddrs().map(a => a.toString()),
    peers: () => libp2p.getPeers().map(p => info(p, libp2p.getConnections(p))),
    async connect (address, options) {
      const ma = checkMultiaddr(address, 'peers connect')
      try {
        const connection = await libp2p.dial(ma, { signal: options?.signal ?? AbortSignal.timeout(10_000) })
        return info(connection.remotePeer, libp2p.getConnections(connection.remotePeer))
      } catch (err) {
        throw new PeerUnreachableError(`cannot connect to ${address}: ${(err as Error).message}`, { address })
      }
    },
    async disconnect (peer) {
      let id: PeerId
      try { id = peerIdFromString(peer) } catch { throw new UsageError(`"${peer}" is not a peer id`) }
      await libp2p.hangUp(id)
    },
    async fetch (want, have, options = {}) {
      const connected = libp2p.getPeers().map(p => p.toString())
      const order = [...new Set([...(options.from ?? []), ...connected])]
      let last: unknown
      for (const peer of order) {
        try {
          const { car, trailer } = await fetchMissing(libp2p, peerIdFromString(peer), want, have, options)
          return { peer, car, trailer }
        } catch (err) {
          last = err
          log.debug({ peer, want: want.toString(), err: (err as Error).message }, 'sync: peer cannot answer')
        }
      }
      throw last ?? new PeerUnreachableError(`no connected peer to sync ${want} from`, { cid: want.toString() })
    },
    bitswapCar (want, options) {
      const reader = {
        get: async (cid: CID, o?: { signal?: AbortSignal }): Promise<Uint8Array> => {
          const chunks: Uint8Array[] = []
          // Helia stores what it fetches; FETCHED keeps it apart until the import checks the DAG.
          for await (const chunk of helia.blockstore.get(cid, fetchedOptions({ signal: o?.signal ?? AbortSignal.timeout(BITSWAP_BLOCK_TIMEOUT_MS) }))) chunks.push(chunk)
          return chunks.length === 1 ? chunks[0] as Uint8Array : Buffer.concat(chunks)
        }
      }
      // Stored blocks have complete closures: the walk fetches only what is missing.
      return carStream(want, walkClosure(reader, want, { signal: options?.signal, held: async cid => await components.blocks.has(cid) }))
    },
    provide (cid) {
      if (!config.public) return
      libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(60_000) }).catch((err: unknown) => {
        log.warn({ cid: cid.toString(), err: (err as Error).message }, 'providing on the DHT failed')
      })
    },
    publish: async (entry) => await chains.append(entry),
    ownEntries: async (limit) => await chains.own(limit),
    onChainEntries (handler) {
      entriesHandler = handler
      for (const [peer, entries] of pendingEntries.splice(0)) {
        handler(peer, entries).catch((err: unknown) => { log.warn({ peer, err: (err as Error).message }, 'chain entries failed') })
      }
    },
    onPeerConnect (handler) { connectHandlers.push(handler) },
    async stop () {
      keeper.stop()
      roster.stop()
      libp2p.removeEventListener('peer:connect', onConnect)
      await libp2p.unhandle(SYNC_PROTOCOL).catch(() => {})
      await libp2p.unhandle(HEADS_PROTOCOL).catch(() => {})
      await chains.close()
    }
  }
}

export function orbitDirectory (repoPath: string): string {
  return join(repoPath, 'orbitdb')
}
