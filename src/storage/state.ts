import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { RepoCorruptError } from '../core/errors.ts'
import type { RepoDb } from './level-db.ts'
import type { Journal } from './journal.ts'

/**
 * Keys of framehub's own state. Names (branches, sessions, frame ids) never hold whitespace, so a
 * space separates a key's kind from its name and prefix scans never mix `a` with `a/b`.
 */
export const keys = {
  config: 'config',
  identity: 'identity',
  head: 'HEAD',
  ref: (branch: string) => `ref ${branch}`,
  refPrefix: 'ref ',
  /** Working tree of a branch: the staged frame set, when it differs from the branch's commit. */
  work: (branch: string) => `work ${branch}`,
  sessionHeads: (session: string) => `session-heads ${session}`,
  sessionHeadsPrefix: 'session-heads ',
  sessionHead: (session: string) => `session-head ${session}`,
  /** Sessions appended to since the last commit: the next commit names their heads. */
  sessionDirty: (session: string) => `session-dirty ${session}`,
  sessionDirtyPrefix: 'session-dirty ',
  fork: (branch: string, id: string, merge: string) => `fork ${branch} ${id} ${merge}`,
  forkPrefix: 'fork ',
  /** A peer's chain (JSON `{ address, seen }`: its OrbitDB address, the newest entry processed). */
  chain: (peer: string) => `chain ${peer}`,
  chainPrefix: 'chain ',
  /** A peer's published head of a shared branch (remote-tracking ref), after its DAG was synced. */
  remote: (peer: string, ref: string) => `remote ${peer} ${ref}`,
  remotePrefix: 'remote ',
  /** The head of a shared branch this node last published (it passed the coherence check). */
  published: (ref: string) => `published ${ref}`,
  /** Set while a checked import's staged blocks are being copied into the blockstore (see storage/pending.ts). */
  importPromoting: 'import-promoting'
} as const

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const encodeCid = (cid: CID): Uint8Array => cid.bytes
export const encodeText = (text: string): Uint8Array => encoder.encode(text)
export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
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
