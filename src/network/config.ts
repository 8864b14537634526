import { multiaddr } from '@multiformats/multiaddr'
import { UsageError } from '../core/errors.ts'

/** How a node joins the network (`framehub daemon --listen … --bootstrap … --network … --public`). */
export interface NetworkConfig {
  /** Multiaddrs to listen on. Default: TCP and WebSocket on 127.0.0.1, ports picked by the OS. */
  listen: string[]
  /** Peers to dial at start and to redial while they are away (full multiaddrs with /p2p/). */
  bootstrap: string[]
  /** Name of the swarm: nodes with the same name replicate each other's chains. Default `default`. */
  network: string
  /** Join the public IPFS network: public bootstrap list, Amino DHT, providing of published CIDs. */
  public: boolean
}

export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
export const DEFAULT_NETWORK = 'default'

/** The public bootstrap peers (the list kubo and Helia ship), used only with `public: true`. */
export const PUBLIC_BOOTSTRAP = [
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
]

const NETWORK_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

/** Fills in defaults and checks every address; a bad one is a usage error naming it. */
export function networkConfig (input: Partial<NetworkConfig> = {}): NetworkConfig {
  const config: NetworkConfig = {
    listen: input.listen != null && input.listen.length > 0 ? input.listen : DEFAULT_LISTEN,
    bootstrap: input.bootstrap ?? [],
    network: input.network ?? DEFAULT_NETWORK,
    public: input.public ?? false
  }
  if (!NETWORK_NAME.test(config.network)) throw new UsageError(`--network wants a name of lower-case letters, digits, '.', '_' or '-' (at most 64), not "${config.network}"`)
  for (const a of config.listen) checkMultiaddr(a, '--listen')
  for (const a of config.bootstrap) {
    const ma = checkMultiaddr(a, '--bootstrap')
    if (ma.getComponents().every(c => c.name !== 'p2p')) throw new UsageError(`--bootstrap wants a multiaddr that ends in /p2p/PEER-ID, not "${a}"`)
  }
  return config
}

export function checkMultiaddr (text: string, what: string): ReturnType<typeof multiaddr> {
  try {
    return multiaddr(text)
  } catch (err) {
    throw new UsageError(`${what}: "${text}" is not a multiaddr (${(err as Error).message})`)
  }
}
