// The few parts of @orbitdb/core 4.0.0 (plain JavaScript, no types) that the benchmark uses.
declare module '@orbitdb/core' {
  export interface OrbitEventsDb {
    readonly address: string
    add (value: unknown): Promise<string>
    all (): Promise<Array<{ hash: string, value: unknown }>>
    close (): Promise<void>
  }
  export interface OrbitDB {
    readonly directory: string
    open (name: string, options?: { type?: 'events' | 'documents' | 'keyvalue', [key: string]: unknown }): Promise<OrbitEventsDb>
    stop (): Promise<void>
  }
  export function createOrbitDB (params: { ipfs: unknown, id?: string, directory?: string }): Promise<OrbitDB>
}
