import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { RepoCorruptError } from '../core/errors.ts'
import type { RepoDb } from './level-db.ts'
import type { Journal } from './journal.ts'

export { encodeJson, encodeText, keys, STATE_KINDS, stateKindOf } from './state-keys.ts'
export type { StateKind, StateKinds, StateRoots } from './state-keys.ts'

const decoder = new TextDecoder()

export const encodeCid = (cid: CID): Uint8Array => cid.bytes
export const encodeCbor = (value: unknown): Uint8Array => dagCbor.encode(value)

/** Typed reads of framehub state. Writes go through WriteBatch so they commit atomically with blocks. */
export interface StateReader {
  cid (key: string): Promise<CID | undefined>
  text (key: string): Promise<string | undefined>
  json<T> (key: string): Promise<T | undefined>
  cbor<T> (key: string): Promise<T | undefined>
  bytes (key: string): Promise<Uint8Array | undefined>
  /** Keys (without the prefix) and values under a prefix, in key order. */
  scan (prefix: string): AsyncIterable<[string, Uint8Array]>
}

export function createStateReader (db: RepoDb, journal?: Journal): StateReader {
  const bytes = async (key: string): Promise<Uint8Array | undefined> => {
    const journaled = journal?.state(key)
    if (journaled !== undefined) return journaled ?? undefined
    return db.state.getSync(key)
  }
  const corrupt = (key: string, err: unknown): never => {
    throw new RepoCorruptError(`repository state "${key}" is unreadable: ${(err as Error).message}`)
  }
  return {
    bytes,
    async cid (key) {
      const b = await bytes(key)
      if (b === undefined) return undefined
      try { return CID.decode(b) } catch (err) { return corrupt(key, err) }
    },
    async text (key) {
      const b = await bytes(key)
      return b === undefined ? undefined : decoder.decode(b)
    },
    async json<T> (key: string) {
      const b = await bytes(key)
      if (b === undefined) return undefined
      try { return JSON.parse(decoder.decode(b)) as T } catch (err) { return corrupt(key, err) }
    },
    async cbor<T> (key: string) {
      const b = await bytes(key)
      if (b === undefined) return undefined
      try { return dagCbor.decode(b) as T } catch (err) { return corrupt(key, err) }
    },
    async * scan (prefix) {
      // Scans read LevelDB alone: bring journaled writes there first.
      await journal?.flush()
      // '\uffff' sorts after every character a name may hold.
      for await (const [k, v] of db.state.iterator({ gte: prefix, lt: prefix + '\uffff' })) {
        yield [k.slice(prefix.length), v]
      }
    }
  }
}
