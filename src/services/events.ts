/**
 * What happens on a node. Each service publishes after its write has landed, whoever called it
 * (CLI, gateway, embedding agent); the gateway streams them (`GET /api/v1/events`) and counts them.
 */
export interface NodeEvents {
  'frame:put': { id: string, cid: string, branch: string }
  'frame:remove': { id: string, branch: string, tree: string }
  'frame:import': { frames: number, branch: string, tree: string }
  commit: { commit: string, tree: string, branch: string, parents: string[] }
  'ref:move': { ref: string, from: string | null, to: string | null, reason: 'commit' | 'merge' | 'fast-forward' | 'consensus' | 'branch-create' | 'branch-delete' | 'import' }
  checkout: { branch: string }
  'step:append': { session: string, cid: string, parents: string[], heads: string[] }
  'snapshot:import': { root: string, blocks: number, bytes: number }
  'pin:status': { requestid: string, cid: string, status: string }
  /** A sync under way: blocks and bytes received so far (every few thousand blocks). */
  'sync:progress': { want: string, peer: string, blocks: number, bytes: number }
  /** A DAG arrived from a peer by the sync protocol and is now visible. */
  'sync:done': { want: string, peer: string, blocks: number, bytes: number, ms: number }
  /** Entries appended to this node's chain. */
  publish: { ref: string | null, head: string | null, sessions: string[] }
}

export type NodeEventType = keyof NodeEvents

/** One delivered event: its type, a sequence number (per bus) and its detail. */
export interface NodeEvent<K extends NodeEventType = NodeEventType> {
  id: number
  type: K
  time: number
  detail: NodeEvents[K]
}

export type NodeEventListener = (event: NodeEvent) => void

/** A tiny typed, synchronous emitter. A throwing listener never breaks the publisher. */
export interface EventBus {
  publish<K extends NodeEventType>(type: K, detail: NodeEvents[K]): void
  /** Listens to every event; returns the function that stops listening. */
  subscribe (listener: NodeEventListener): () => void
  /** Number of current listeners. */
  readonly listeners: number
}

export const eventTypes: readonly NodeEventType[] = ['frame:put', 'frame:remove', 'frame:import', 'commit', 'ref:move', 'checkout', 'step:append', 'snapshot:import', 'pin:status', 'sync:progress', 'sync:done', 'publish']

export function createEventBus (): EventBus {
  const listeners = new Set<NodeEventListener>()
  let seq = 0
  return {
    publish (type, detail) {
      const event = { id: ++seq, type, time: Date.now(), detail } as NodeEvent
      for (const listener of listeners) {
        try {
          listener(event)
        } catch {
          // A subscriber's failure is its own business.
        }
      }
    },
    subscribe (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    get listeners () {
      return listeners.size
    }
  }
}
