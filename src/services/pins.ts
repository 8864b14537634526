import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { walkClosure } from '../core/closure.ts'
import { parseCid } from '../core/cid.ts'
import type { Helia } from '@helia/interface'
import { isFramehubError } from '../core/errors.ts'
import type { Network } from '../network/index.ts'
import type { BlockStore } from '../storage/block-store.ts'
import type { RepoDb } from '../storage/level-db.ts'
import { encodeJson, keys } from '../storage/state.ts'
import type { EventBus } from './events.ts'
import type { ReplicationService } from './replication.ts'

export type PinState = 'queued' | 'pinning' | 'pinned' | 'failed'

/** A pin request as the Pinning Service API describes it. */
export interface PinRequest {
  cid: string
  name?: string
  origins?: string[]
  meta?: Record<string, string>
}

/** What is stored per request (state key `pin <requestid>`). */
export interface PinRecord {
  requestid: string
  status: PinState
  /** RFC 3339, unique per repository (pagination relies on it). */
  created: string
  pin: PinRequest
  info?: Record<string, string>
}

export type TextMatch = 'exact' | 'iexact' | 'partial' | 'ipartial'

export interface PinFilter {
  cids?: string[]
  name?: string
  match?: TextMatch
  status: PinState[]
  before?: Date
  after?: Date
  meta?: Record<string, string>
  limit: number
}

export interface PinStore {
  add (pin: PinRequest): Promise<PinRecord>
  get (requestid: string): Promise<PinRecord | undefined>
  /** Newest first; `count` is every match, `results` at most `limit`. */
  list (filter: PinFilter): Promise<{ count: number, results: PinRecord[] }>
  /** Adds the new pin, then lets go of the old one once the new one is done (no GC gap). */
  replace (requestid: string, pin: PinRequest): Promise<PinRecord | undefined>
  remove (requestid: string): Promise<boolean>
  /** Resolves when every queued job has run. */
  idle (): Promise<void>
  /**
   * Resumes the requests an earlier run left queued or pinning (idempotent). Every other call
   * starts it too: a node that never serves pins never touches them.
   */
  start (): Promise<void>
  close (): Promise<void>
}

/** State keys of pin request records: `pin <requestid>`. */
export const PIN_PREFIX = keys.pinPrefix
const PREFIX = PIN_PREFIX
const keyOf = keys.pin
/** Milliseconds in base 36, fixed width: request ids sort by creation time. */
const msKey = (ms: number): string => ms.toString(36).padStart(10, '0')

export interface PinStoreInit {
  /** Longest a pin may wait on the network for its blocks, ms (default 5 minutes). */
  fetchTimeoutMs?: number
}

/** What the pinning service uses. */
export interface PinStoreComponents {
  /** The repository's state, where the records are kept (written outside the write lock). */
  state: RepoDb['state']
  blocks: BlockStore
  /** Helia, whose pin store holds the pins. */
  helia: () => Promise<Pick<Helia, 'pins'>>
  events: EventBus
  /** The node in the swarm, to dial a request's origins (absent when offline). */
  network?: Pick<Network, 'connect' | 'peers'>
  /** Sync, to fetch a DAG this node lacks (absent when offline). */
  replication?: Pick<ReplicationService, 'sync'>
}

/** Time to dial one of a pin request's origins, ms. */
const ORIGIN_DIAL_MS = 10_000

/**
 * The pinning service's records, in the repository state next to refs, and the pins themselves
 * in Helia's pin store. Work runs one job at a time in the background, as the spec's
 * queued → pinning → pinned|failed lifecycle expects.
 *
 * A DAG this node lacks is fetched from its peers first, after dialling the request's `origins`:
 * through framehub sync, or bitswap for stock peers (`replication.sync`), so every block is
 * checked and nothing is stored until the DAG is complete. Helia then pins offline, over blocks
 * that are all here. An offline node (no `network`), or a DAG no peer gives in time, fails the
 * pin with the reason in `info.status_details`.
 */
export function createPinStore (components: PinStoreComponents, init: PinStoreInit = {}): PinStore {
  const { state, blocks, helia, events } = components
  const fetchTimeoutMs = init.fetchTimeoutMs ?? 5 * 60_000
  let lastMs = 0
  let chain: Promise<void> = Promise.resolve()
  let closed = false
  const closing = new AbortController()

  const serial = (job: () => Promise<void>): Promise<void> => {
    chain = chain.then(async () => { if (!closed) await job() }).catch(() => {})
    return chain
  }

  const read = async (requestid: string): Promise<PinRecord | undefined> => {
    const bytes = await state.get(keyOf(requestid))
    return bytes === undefined ? undefined : JSON.parse(new TextDecoder().decode(bytes)) as PinRecord
  }
  const write = async (record: PinRecord): Promise<void> => { await state.put(keyOf(record.requestid), encodeJson(record)) }

  async function * all (options: { reverse?: boolean, gte?: string, lt?: string } = {}): AsyncGenerator<PinRecord> {
    const range = { gte: options.gte ?? PREFIX, lt: options.lt ?? PREFIX + '\uffff', reverse: options.reverse === true }
    for await (const [, value] of state.iterator(range)) yield JSON.parse(new TextDecoder().decode(value)) as PinRecord
  }

  const setStatus = async (requestid: string, status: PinState, info?: Record<string, string>): Promise<void> => {
    const record = await read(requestid)
    if (record == null) return
    record.status = status
    if (info != null) record.info = info
    else delete record.info
    await write(record)
    events.publish('pin:status', { requestid, cid: record.pin.cid, status })
  }

  const pinJob = (requestid: string) => async (): Promise<void> => {
    const record = await read(requestid)
    if (record == null || record.status === 'pinned') return
    await setStatus(requestid, 'pinning')
    const cid = parseCid(record.pin.cid)
    try {
      const fetched = await fetchMissing(cid, record.pin.origins ?? [])
      // Every block must be here: Helia pins offline.
      let count = 0
      for await (const _ of walkClosure(blocks, cid)) count++
      const pins = (await helia()).pins
      if (!await pins.isPinned(cid)) {
        for await (const _ of pins.add(cid, { offline: true } as Parameters<typeof pins.add>[1])) { /* drain */ }
      }
      await setStatus(requestid, 'pinned', { dag_blocks: String(count), ...(fetched != null ? { fetched_blocks: String(fetched.blocks), fetched_from: fetched.peer } : {}) })
    } catch (err) {
      if (closing.signal.aborted) return // stays `pinning`: picked up again at the next start
      const details = isFramehubError(err) ? `${err.code}: ${err.message}` : (err as Error).message
      const missing = isFramehubError(err) && err.code === 'ERR_BLOCK_NOT_FOUND'
      await setStatus(requestid, 'failed', {
        status_details: missing && components.network == null ? `${details} (this node is offline: import the blocks, or start it with the network)` : details
      })
    }
  }

  /**
   * Fetches `cid`'s DAG from the network when this node does not have it (a stored block always
   * has its whole closure here). Returns what came in, or undefined when nothing was needed.
   */
  const fetchMissing = async (cid: CID, origins: string[]): Promise<{ blocks: number, peer: string } | undefined> => {
    const { network, replication } = components
    if (network == null || replication == null || await blocks.has(cid)) return undefined
    // All at once; an origin that cannot be dialled is not an error: another peer may have the DAG.
    await Promise.all(origins.map(async origin => {
      try {
        await network.connect(origin, { signal: AbortSignal.any([closing.signal, AbortSignal.timeout(ORIGIN_DIAL_MS)]) })
      } catch {}
    }))
    const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(fetchTimeoutMs)])
    try {
      const result = await replication.sync(cid, { signal })
      return { blocks: result.blocks, peer: result.peer }
    } catch (err) {
      if (signal.aborted && !closing.signal.aborted) {
        throw new Error(`no connected peer gave ${cid} within ${Math.round(fetchTimeoutMs / 1000)} s (${network.peers().length} peers connected)`)
      }
      throw err
    }
  }

  /** Unpins `cid` in Helia unless another live request still holds it. */
  const releaseJob = (cid: string) => async (): Promise<void> => {
    for await (const r of all()) {
      if (r.pin.cid === cid && r.status !== 'failed') return
    }
    const parsed = parseCid(cid)
    const pins = (await helia()).pins
    if (await pins.isPinned(parsed)) {
      for await (const _ of pins.rm(parsed)) { /* drain */ }
    }
  }

  const newRecord = async (pin: PinRequest): Promise<PinRecord> => {
    // Creation times are unique (the spec paginates on them): at most one request per millisecond.
    const ms = Math.max(Date.now(), lastMs + 1)
    lastMs = ms
    const record: PinRecord = {
      requestid: `${msKey(ms)}-${randomBytes(8).toString('hex')}`,
      status: 'queued',
      created: new Date(ms).toISOString(),
      pin: { ...pin, cid: parseCid(pin.cid, 'pin CID').toString() }
    }
    await write(record)
    events.publish('pin:status', { requestid: record.requestid, cid: record.pin.cid, status: 'queued' })
    return record
  }

  let ready: Promise<void> | undefined
  const start = async (): Promise<void> => {
    ready ??= (async () => {
      // Pick up where a previous run stopped.
      // eslint-disable-next-line no-unreachable-loop -- the newest record only
      for await (const r of all({ reverse: true })) {
        lastMs = Math.max(lastMs, Date.parse(r.created))
        break
      }
      for await (const r of all()) {
        if (r.status === 'queued' || r.status === 'pinning') void serial(pinJob(r.requestid))
      }
    })()
    await ready
  }

  const matches = (r: PinRecord, f: PinFilter): boolean => {
    if (!f.status.includes(r.status)) return false
    if (f.cids != null && !f.cids.includes(r.pin.cid)) return false
    if (f.name != null) {
      const name = r.pin.name
      if (name == null) return false
      const m = f.match ?? 'exact'
      if (m === 'exact' && name !== f.name) return false
      if (m === 'iexact' && name.toLowerCase() !== f.name.toLowerCase()) return false
      if (m === 'partial' && !name.includes(f.name)) return false
      if (m === 'ipartial' && !name.toLowerCase().includes(f.name.toLowerCase())) return false
    }
    if (f.meta != null) {
      for (const [k, v] of Object.entries(f.meta)) if (r.pin.meta?.[k] !== v) return false
    }
    return true
  }

  return {
    async add (pin) {
      await start()
      const record = await newRecord(pin)
      void serial(pinJob(record.requestid))
      return record
    },
    get: read,
    async list (f) {
      await start()
      // Request ids start with the creation time: before/after become key bounds.
      const lt = f.before != null ? PREFIX + msKey(f.before.getTime()) : undefined
      const gte = f.after != null ? PREFIX + msKey(f.after.getTime() + 1) : undefined
      const results: PinRecord[] = []
      let count = 0
      for await (const r of all({ reverse: true, gte, lt })) {
        if (!matches(r, f)) continue
        count++
        if (results.length < f.limit) results.push(r)
      }
      return { count, results }
    },
    async replace (requestid, pin) {
      await start()
      const old = await read(requestid)
      if (old == null) return undefined
      const record = await newRecord(pin)
      await state.del(keyOf(requestid))
      void serial(pinJob(record.requestid))
      void serial(releaseJob(old.pin.cid))
      return record
    },
    async remove (requestid) {
      await start()
      const old = await read(requestid)
      if (old == null) return false
      await state.del(keyOf(requestid))
      void serial(releaseJob(old.pin.cid))
      return true
    },
    async idle () {
      await start()
      let seen: Promise<void> | undefined
      while (seen !== chain) {
        seen = chain
        await chain
      }
    },
    start,
    async close () {
      await ready?.catch(() => {})
      // Jobs not started yet stay queued in the records and run on the next start; a fetch under
      // way is abandoned (its staged blocks are dropped) and runs again then too.
      closed = true
      closing.abort()
      await chain
    }
  }
}
