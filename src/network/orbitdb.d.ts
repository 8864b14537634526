// The parts of @orbitdb/core 4.0.0 (plain JavaScript, no types) that framehub and its benchmarks use.
declare module '@orbitdb/core' {
  import type { EventEmitter } from 'node:events'
  export interface OrbitEntry {
    hash: string
    identity: string
    payload: { op: string, key: string | null, value: unknown }
  }
  export interface OrbitEventsDb {
    readonly address: string
    readonly events: EventEmitter
    add (value: unknown): Promise<string>
    all (): Promise<Array<{ hash: string, value: unknown }>>
    iterator (options?: { amount?: number }): AsyncIterable<{ hash: string, value: unknown }>
    close (): Promise<void>
    /** Peers this database exchanged heads with since they (re)connected (OrbitDB's sync). */
    readonly peers: Set<string>
    /** The oplog: entries by hash (fetched through the IPFS blockstore when missing), heads, joining. */
    readonly log: {
      has (hash: string): Promise<boolean>
      get (hash: string): Promise<unknown>
      heads (): Promise<Array<{ hash: string }>>
      /** Verifies an entry (access controller, identity) and joins it and what it links to; false if already there. */
      joinEntry (entry: unknown): Promise<boolean>
    }
  }
  export interface OrbitDB {
    readonly directory: string
    readonly identity: { id: string }
    open (name: string, options?: { type?: 'events' | 'documents' | 'keyvalue', signal?: AbortSignal, [key: string]: unknown }): Promise<OrbitEventsDb>
    stop (): Promise<void>
  }
  export function createOrbitDB (params: { ipfs: unknown, id?: string, directory?: string }): Promise<OrbitDB>
}
