import type * as Wire from '../core/api-types.ts'
import type { NodeServices } from '../node.ts'
import { createApiClient, DAEMON_UNREACHABLE } from './api.ts'
import type { ApiClientInit } from './api.ts'
import { remoteCommits } from './commits.ts'
import { remoteConsensus } from './consensus.ts'
import { remoteEvents } from './events.ts'
import { remoteFrames } from './frames.ts'
import { remoteGc, remoteIndex } from './maintenance.ts'
import { remoteRefs } from './refs.ts'
import { remoteSnapshots } from './snapshots.ts'
import { remoteTraces } from './traces.ts'
import { remoteSpans } from './spans.ts'
import { remoteVerifier } from './verify.ts'
import { remoteSwarm } from './swarm.ts'

export { DAEMON_UNREACHABLE }
export type { ApiClientInit }

export interface ConnectOptions {
  /** How long to wait for the daemon's first answer, ms (default 5000). */
  timeoutMs?: number
}

/**
 * The services of a node that a running daemon holds, reached through its HTTP API: the same
 * interfaces as `createNode` gives (minus the repository), the same errors (by code). Asks the
 * daemon for its peer id first, so an address whose daemon is gone fails here with
 * `ERR_DAEMON_UNREACHABLE`, before any work.
 */
export async function connectNode (init: ApiClientInit, options: ConnectOptions = {}): Promise<NodeServices> {
  const health = await createApiClient(init, '').json<Wire.Health>('/health', { signal: AbortSignal.timeout(options.timeoutMs ?? 5000) })
  const api = createApiClient(init)
  return {
    peerId: health.peerId,
    frames: remoteFrames(api),
    refs: remoteRefs(api),
    commits: remoteCommits(api),
    traces: remoteTraces(api),
    spans: remoteSpans(api),
    snapshots: remoteSnapshots(api),
    verifier: remoteVerifier(api),
    swarm: remoteSwarm(api),
    consensus: remoteConsensus(api),
    gc: remoteGc(api),
    index: remoteIndex(api),
    events: remoteEvents(api),
    // Nothing to release: the daemon keeps the repository; idle connections do not hold the process.
    close: async () => {}
  }
}
