/**
 * Helia's datastore (a LevelDB sublevel), with the libp2p peer store's records (`/peers/…`)
 * kept in memory and written behind.
 *
 * libp2p merges into a peer's record on every stream it opens or accepts (the protocol's name)
 * and rewrites it each time (its `updated` time): a LevelDB read and a write before each stream
 * is handed over. A node that has just started opens streams to every peer at once (chains,
 * syncs), and each waited for those behind the node's other reads. Here a record is read from
 * LevelDB once and then served from memory; writes are gathered and written in one batch at most
 * once a second, before anything reads the records from LevelDB (a query, a batch) and before the
 * store closes. A crash loses at most the last second of peer-store updates: addresses and
 * protocols that the next connection learns again.
 */
import { LevelDatastore } from 'datastore-level'

type Key = Parameters<LevelDatastore['put']>[0]
type Options = Parameters<LevelDatastore['put']>[2]
type Batch = ReturnType<LevelDatastore['batch']>

/** The peer store's records: `/peers/<peer id>`. */
const PEERS = '/peers/'

/** Longest time a peer-store write waits in memory. */
export const PEER_WRITE_BEHIND_MS = 1000

/**
 * Most records held in memory (a public node's peer store can grow to thousands of peers): past
 * it, the records held longest that have been written go first (they are read from LevelDB again).
 */
export const PEER_RECORDS_HELD = 4096

export class PeerCacheDatastore extends LevelDatastore {
  readonly #records = new Map<string, { key: Key, value: Uint8Array }>()
  /** Records written here and not yet to LevelDB. */
  readonly #dirty = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()

  override async put (key: Key, value: Uint8Array, options?: Options): Promise<Key> {
    const k = key.toString()
    if (!k.startsWith(PEERS)) return await super.put(key, value, options)
    this.#records.delete(k)
    this.#records.set(k, { key, value })
    this.#dirty.add(k)
    this.#trim()
    this.#timer ??= setTimeout(() => { this.flush().catch(() => {}) }, PEER_WRITE_BEHIND_MS).unref()
    return key
  }

  override async get (key: Key, options?: Options): Promise<Uint8Array> {
    const k = key.toString()
    if (!k.startsWith(PEERS)) return await super.get(key, options)
    const cached = this.#records.get(k)
    if (cached !== undefined) return cached.value
    const value = await super.get(key, options)
    // A write while LevelDB was read is newer.
    if (!this.#records.has(k)) {
      this.#records.set(k, { key, value })
      this.#trim()
    }
    return this.#records.get(k)?.value ?? value
  }

  override async has (key: Key, options?: Options): Promise<boolean> {
    if (this.#records.has(key.toString())) return true
    return await super.has(key, options)
  }

  override async delete (key: Key, options?: Options): Promise<void> {
    const k = key.toString()
    if (k.startsWith(PEERS)) {
      this.#records.delete(k)
      this.#dirty.delete(k)
      await this.flush()
    }
    await super.delete(key, options)
  }

  override query (...args: Parameters<LevelDatastore['query']>): ReturnType<LevelDatastore['query']> {
    return this.#afterFlush(() => super.query(...args))
  }

  override queryKeys (...args: Parameters<LevelDatastore['queryKeys']>): ReturnType<LevelDatastore['queryKeys']> {
    return this.#afterFlush(() => super.queryKeys(...args))
  }

  override batch (): Batch {
    const batch = super.batch()
    const forget = (key: Key): void => {
      const k = key.toString()
      this.#records.delete(k)
      this.#dirty.delete(k)
    }
    return {
      put: (key, value) => { forget(key); batch.put(key, value) },
      delete: (key) => { forget(key); batch.delete(key) },
      commit: async (options) => {
        await this.flush()
        await batch.commit(options)
      }
    }
  }

  /** Writes the records written here since the last flush to LevelDB, in one batch. */
  async flush (): Promise<void> {
    if (this.#timer != null) clearTimeout(this.#timer)
    this.#timer = undefined
    const previous = this.#flushing
    // The records as they are now: once no longer dirty, one may be forgotten (`#trim`) before
    // the previous flush ends and this one writes.
    const records = [...this.#dirty].flatMap(k => this.#records.get(k) ?? [])
    this.#dirty.clear()
    const write = async (): Promise<void> => {
      await previous.catch(() => {})
      if (records.length === 0) return
      const batch = super.batch()
      for (const record of records) batch.put(record.key, record.value)
      await batch.commit()
    }
    this.#flushing = write()
    await this.#flushing
  }

  /** Helia starts its datastore (nothing to do) and stops it after libp2p: the writes behind go to LevelDB then. */
  start (): void {}

  async stop (): Promise<void> {
    await this.flush()
  }

  override async close (): Promise<void> {
    await this.flush()
    await super.close()
  }

  /** Forgets the records held longest that are in LevelDB, down to PEER_RECORDS_HELD. */
  #trim (): void {
    if (this.#records.size <= PEER_RECORDS_HELD) return
    for (const k of this.#records.keys()) {
      if (this.#records.size <= PEER_RECORDS_HELD) break
      if (!this.#dirty.has(k)) this.#records.delete(k)
    }
  }

  /** The results of `query` once the writes behind are in LevelDB. */
  #afterFlush<T> (query: () => Iterable<T> | AsyncIterable<T>): AsyncGenerator<T> {
    const flushed = this.flush()
    return (async function * () {
      await flushed
      yield * query()
    })()
  }
}
