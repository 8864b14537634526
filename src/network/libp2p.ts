import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { kadDHT, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import type { Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import type { Helia } from 'helia'
import { PUBLIC_BOOTSTRAP } from './config.ts'
import type { NetworkConfig } from './config.ts'

/** The libp2p services every framehub node runs (the DHT only with `public`). */
export interface NodeLibp2pServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
}

export type NetworkedHelia = HeliaWithLibp2p<NodeLibp2pServices>

/** This machine's own addresses (loopback), as libp2p's connection manager allow list. */
const LOCAL_HOSTS = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']

/** How often each connection is pinged (libp2p's connection monitor). */
const PING_EVERY_MS = 2000
/** Least time a ping may take before its connection is closed (more once pings have been slow). */
const PING_ANSWER_MS = 3000

/**
 * Turns the repository's offline Helia into a networked one: libp2p with the node's own key (so
 * the peer id is the one that signs commits and steps), TCP and WebSocket, noise, yamux,
 * identify, ping and gossipsub, then bitswap for stock IPFS peers and as the fallback of sync.
 * Nothing public is contacted unless `config.public`: no bootstrap list, no DHT, no delegated
 * routing (Helia is built light, so it adds none of its own).
 */
export function withNetwork (config: NetworkConfig, privateKey: PrivateKey): (helia: Helia) => Helia {
  return (helia) => {
    const bootstrapList = [...config.bootstrap, ...(config.public ? PUBLIC_BOOTSTRAP : [])]
    const networked = withLibp2pLight(helia, {
      privateKey,
      addresses: { listen: config.listen },
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList, timeout: 100 })] : [],
      // Connections from this machine (nodes started side by side on loopback) are not held to
      // libp2p's limit of 5 new inbound connections per second per host: every node dials every
      // other one it hears of, and after a restart that limit made them wait a redial round.
      connectionManager: { allow: LOCAL_HOSTS },
      // A connection whose peer stopped answering (a network cut) is closed within about 5 s
      // (libp2p's default: 10 s between pings and at least 5 s to answer, so 15 s). Until it is
      // closed it counts as connected and nothing redials the peer; and when the network comes
      // back, TCP resends on it only after its backoff, several seconds into a long cut. Closed
      // sooner, the peer is redialled with a fresh connection attempt every second
      // (`keeper.ts`), which goes through as soon as the network is back.
      connectionMonitor: { pingInterval: PING_EVERY_MS, pingTimeout: { minTimeout: PING_ANSWER_MS } },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false }),
        ...(config.public ? { dht: kadDHT({ protocol: '/ipfs/kad/1.0.0', peerInfoMapper: removePrivateAddressesMapper, clientMode: false }) } : {})
      }
    })
    return withBitswap(networked as unknown as HeliaWithLibp2p)
  }
}
