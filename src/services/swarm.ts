import type { CID } from 'multiformats/cid'
import type * as Wire from '../core/api-types.ts'
import { NetworkOfflineError } from '../core/errors.ts'
import type { Network, PeerInfo } from '../network/index.ts'
import type { CallOptions, ProgressOptions } from './context.ts'
import type { PublishResult, RemoteRef, ReplicationService, SyncProgress, SyncResult } from './replication.ts'

/** This node in the swarm (`GET /api/v1/id`; schemas/api/node-identity.schema.json). */
export type NodeIdentity = Wire.NodeIdentity

/** The node in the swarm, as the CLI and the gateway see it. Every call needs a networked node. */
export interface SwarmService {
  id (): Promise<NodeIdentity>
  peers (): Promise<PeerInfo[]>
  connect (address: string, options?: CallOptions): Promise<PeerInfo>
  disconnect (peer: string): Promise<void>
  publish (options?: CallOptions & { branch?: string | null, sessions?: string[] }): Promise<PublishResult>
  remotes (): Promise<RemoteRef[]>
  sync (cid: CID, options?: CallOptions & ProgressOptions<SyncProgress> & { from?: string[] }): Promise<SyncResult>
}

export function createSwarmService (network: Network | undefined, replication: ReplicationService | undefined): SwarmService {
  const online = (): { network: Network, replication: ReplicationService } => {
    if (network == null || replication == null) throw new NetworkOfflineError('this node is not on the network: start it with "framehub daemon" (then this command goes through the daemon)')
    return { network, replication }
  }
  return {
    id: async () => {
      const { network: n } = online()
      return { peerId: n.peerId, network: n.config.network, addresses: n.addresses(), chain: n.chain }
    },
    peers: async () => online().network.peers(),
    connect: async (address, options) => await online().network.connect(address, options),
    disconnect: async (peer) => { await online().network.disconnect(peer) },
    publish: async (options) => await online().replication.publish(options),
    remotes: async () => await online().replication.remotes(),
    sync: async (cid, options) => await online().replication.sync(cid, options)
  }
}
