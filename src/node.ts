import { initRepo, openRepo, repoExists, resolveRepoPath } from './storage/repo.ts'
import type { Repo } from './storage/repo.ts'
import { createServiceComponents } from './services/context.ts'
import { createCommitService } from './services/commits.ts'
import type { CommitService } from './services/commits.ts'
import { createFrameService } from './services/frames.ts'
import type { FrameService } from './services/frames.ts'
import { createRefService } from './services/refs.ts'
import type { RefService } from './services/refs.ts'
import { createSnapshotService } from './services/snapshots.ts'
import type { SnapshotService } from './services/snapshots.ts'
import { createTraceService } from './services/traces.ts'
import type { TraceService } from './services/traces.ts'
import { createVerifyService } from './services/verify.ts'
import type { VerifyService } from './services/verify.ts'
import type { EventBus } from './services/events.ts'
import { frameIndex } from './services/frame-query.ts'
import type { FrameIndexService } from './services/frame-query.ts'
import { createGcService } from './services/gc.ts'
import type { GcService } from './services/gc.ts'

/** How to open a node. */
export interface NodeConfig {
  /** Repository directory; default `$FRAMEHUB_REPO`, else `~/.framehub`. */
  repo?: string
  /** Create the repository if there is none (default false: a missing repo is an error). */
  create?: boolean
}

/** A framehub node: the services the CLI, the gateway and embedding agents all use. */
export interface FramehubNode {
  readonly repo: Repo
  /** The node's identity (libp2p peer id). */
  readonly peerId: string
  readonly frames: FrameService
  readonly refs: RefService
  readonly commits: CommitService
  readonly traces: TraceService
  readonly snapshots: SnapshotService
  readonly verifier: VerifyService
  /** The frame index behind the list filters: status, catch-up, rebuild. */
  readonly index: FrameIndexService
  /** Garbage collection of unreachable, unpinned blocks. */
  readonly gc: GcService
  /** What the services wrote, announced after it landed (commits, ref moves, steps, ...). */
  readonly events: EventBus
  close (): Promise<void>
}

/**
 * The services of a node without its repository: what the CLI needs, whether the node is opened
 * in-process (`createNode`) or reached through a running daemon's API (`src/client`).
 */
export type NodeServices = Pick<FramehubNode, 'peerId' | 'frames' | 'refs' | 'commits' | 'traces' | 'snapshots' | 'verifier' | 'close'>

/** Creates a new repository at `config.repo` and opens a node on it; refuses if one exists. */
export async function initNode (config: NodeConfig = {}): Promise<FramehubNode> {
  return wire(await initRepo(resolveRepoPath(config.repo)))
}

/** Opens the node on an existing repository (or creates it with `create: true`). */
export async function createNode (config: NodeConfig = {}): Promise<FramehubNode> {
  const path = resolveRepoPath(config.repo)
  const repo = config.create === true && !repoExists(path) ? await initRepo(path) : await openRepo(path)
  return wire(repo)
}

/** The one place where the services are wired together. */
function wire (repo: Repo): FramehubNode {
  const components = createServiceComponents(repo)
  const refs = createRefService(components)
  return {
    repo,
    peerId: repo.peerId,
    frames: createFrameService(components, refs),
    refs,
    commits: createCommitService(components, refs),
    traces: createTraceService(components),
    snapshots: createSnapshotService(components, refs),
    verifier: createVerifyService(components, refs),
    index: frameIndex(components, refs),
    gc: createGcService(components),
    events: components.events,
    close: async () => {
      await frameIndex(components, refs).close()
      await repo.close()
    }
  }
}
