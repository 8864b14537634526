import * as dagCbor from '@ipld/dag-cbor'
import type { GossipSub } from '@libp2p/gossipsub'
import { createOrbitDB } from '@orbitdb/core'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import type { OrbitDB, OrbitEventsDb } from '@orbitdb/core'
import { signChainEntry, verifyChainEntry } from '../core/chain-entry.ts'
import type { ChainEntry, UnsignedChainEntry } from '../core/chain-entry.ts'
import type { Signer } from '../core/signing.ts'
import type { EntryBlock } from './heads.ts'
import type { Logger } from './logger.ts'

/** What a chain remembers between runs (kept in the repository's state by the caller). */
export interface ChainRecord {
  address: string
  /** Hash of the newest entry already handed to `onEntries`. */
  seen?: string
}

export interface ChainsOptions {
  helia: unknown
  /** The pubsub service OrbitDB replicates through (Helia's libp2p's). */
  pubsub: GossipSub
  /**
   * Fetches one block (a chain entry) from `peer` straight into the blockstore OrbitDB reads, in
   * one request; false when the peer cannot give it. Without it, or when it fails, entries come
   * through bitswap.
   */
  fetchBlock?: (peer: string, hash: string, signal: AbortSignal) => Promise<boolean>
  /** The blockstore OrbitDB reads, on this node only (nothing is asked of the network: `get` throws for a block not here). */
  blocks: {
    has: (cid: CID) => Promise<boolean>
    get: (cid: CID) => Promise<Uint8Array>
    put: (cid: CID, bytes: Uint8Array) => Promise<void>
  }
  directory: string
  network: string
  signer: Signer
  log: Logger
  /** Newly replicated entries of a peer's chain, oldest first, all verified. */
  onEntries: (peer: string, entries: ChainEntry[]) => Promise<void>
  /** Persists a chain's record. */
  saveRecord: (peer: string, record: ChainRecord) => Promise<void>
}

export interface Chains {
  /** This node's chain address. */
  readonly address: string
  /** Appends a signed entry to this node's chain (OrbitDB replicates it to every peer that opened it). */
  append (entry: UnsignedChainEntry): Promise<ChainEntry>
  /** Opens (and from then on replicates) a peer's chain; reads what it holds that was not seen yet. */
  follow (peer: string, record: ChainRecord): Promise<void>
  /** Peers whose chains are open, with their addresses. */
  followed (): Array<{ peer: string, address: string }>
  /** Hash of the newest entry of this node's own chain (what the roster re-announces). */
  head (): Promise<string | undefined>
  /**
   * A peer announced `head` as the newest entry of its chain: when this node does not have it
   * (a missed update), it is fetched, verified and joined, and the chain read again. A chain
   * still being opened does so once it is open.
   */
  catchUp (peer: string, head: string): Promise<void>
  /**
   * The blocks of the newest entry of every chain open here, this node's own first: what a peer
   * that connects is sent (heads.ts).
   */
  newest (): Promise<Uint8Array[]>
  /**
   * Entries a peer sent as the newest of chains it holds (heads.ts): each one of a chain this node
   * follows (or is opening) is stored and caught up with, as if its owner had announced it.
   */
  offered (from: string, entries: EntryBlock[]): Promise<void>
  /** Entries of this node's own chain, newest first (at most `limit`). */
  own (limit?: number): Promise<ChainEntry[]>
  close (): Promise<void>
}

/** Longest wait for a missed chain entry announced by the roster. */
const CATCH_UP_MS = 10_000
/** Longest wait for that entry asked of the peer that announced it (then bitswap is tried). */
const FETCH_ENTRY_MS = 3000

/**
 * Each node owns one OrbitDB events log, named `framehub/<network>/chain/<peer id>`, that only
 * its OrbitDB identity can append to (OrbitDB's default IPFS access controller, write: [self]);
 * OrbitDB checks that on every replicated entry. framehub adds its own check on top: an entry
 * must be signed by the peer id that owns the chain, or it is dropped and logged.
 */
export async function openChains (options: ChainsOptions): Promise<Chains> {
  const { log, signer } = options
  const started = performance.now()
  const orbitdb: OrbitDB = await createOrbitDB({ ipfs: options.helia, directory: options.directory, id: signer.id })
  log.debug({ ms: Math.round(performance.now() - started) }, 'OrbitDB started')
  const own = await orbitdb.open(`framehub/${options.network}/chain/${signer.id}`, { type: 'events' })
  log.debug({ ms: Math.round(performance.now() - started), chain: own.address }, 'own chain opened')
  // OrbitDB reports replication failures (a peer gone mid-exchange) as 'error' events; an
  // EventEmitter without a listener would turn them into a crash.
  const onError = (chain: string) => (err: Error): void => { log.debug({ chain, err: err.message }, 'chain replication') }
  own.events.on('error', onError(own.address))
  const peers = new Map<string, { db: OrbitEventsDb, record: ChainRecord, reading: Promise<void> }>()
  /** Chains being opened, by peer. */
  const opening = new Map<string, { address: string, done: Promise<void> }>()
  /**
   * The newest entry a peer announced on the roster while its chain was not open yet (being
   * reopened at start): caught up with as soon as the chain is open. OrbitDB exchanges heads when
   * a peer joins the chain's topic; a chain opened after that moment (a node that comes back
   * connects while it reopens its chains) would otherwise wait for the peer's next announcement.
   */
  const announced = new Map<string, string>()
  /** The newest entry of a peer's chain handed over before it was joined, with its Lamport time. */
  const previewed = new Map<string, { time: number, entry: ChainEntry }>()

  /** Reads new entries newest-first back to the last seen one, then hands them over oldest first. */
  const readNew = async (peer: string): Promise<void> => {
    const state = peers.get(peer)
    if (state == null) return
    const fresh: ChainEntry[] = []
    let newest: string | undefined
    for await (const { hash, value } of state.db.iterator()) {
      if (hash === state.record.seen) break
      newest ??= hash
      try {
        fresh.push(await verifyChainEntry(value, peer))
      } catch (err) {
        log.warn({ peer, entry: hash, err: (err as Error).message }, 'chain entry rejected')
      }
    }
    if (newest == null) return
    fresh.reverse()
    // A newer entry read ahead (`preview`) stays the newest handed over until it is joined.
    const ahead = previewed.get(peer)
    if (ahead != null) {
      const top = await state.db.log.get(newest) as { clock?: { time?: number } } | undefined
      if ((top?.clock?.time ?? 0) < ahead.time) fresh.push(ahead.entry)
      else previewed.delete(peer)
    }
    log.debug({ peer, entries: fresh.length }, 'chain entries read')
    await options.onEntries(peer, fresh)
    state.record = { ...state.record, seen: newest }
    await options.saveRecord(peer, state.record)
  }

  /** One read at a time per chain; updates arriving meanwhile are folded into the next read. */
  const schedule = (peer: string): void => {
    const state = peers.get(peer)
    if (state == null) return
    state.reading = state.reading.then(async () => { await readNew(peer) }).catch((err: unknown) => {
      log.warn({ peer, err: (err as Error).message }, 'reading a peer chain failed')
    })
  }

  /**
   * OrbitDB exchanges a chain's heads with a peer when that peer joins the chain's pubsub topic.
   * A chain opened after its peers joined (a node that comes back is connected to them while it
   * reopens its chains) would wait for their next update: the exchange is started here for every
   * peer already on the topic, by handing OrbitDB the subscription it missed (its own handler
   * then runs the exchange, and skips a peer it already exchanged with).
   */
  const exchangeHeads = (db: OrbitEventsDb): void => {
    const subscribers = options.pubsub.getSubscribers(db.address).filter(p => !db.peers.has(p.toString()))
    for (const peerId of subscribers) {
      options.pubsub.safeDispatchEvent('subscription-change', { detail: { peerId, subscriptions: [{ topic: db.address, subscribe: true }] } })
    }
  }

  /**
   * Hands over a peer's newest chain entry before the entries it follows are joined: a decision
   * needs only each peer's newest proposal, and joining fetches the entries this node missed one
   * after the other (a round trip each). Only an entry later than every head this node has of
   * the chain (OrbitDB's Lamport clock), signed by the peer: an old announcement played again
   * cannot take a proposal back. The entry is handed over again, with those before it, once
   * joined (the same newest proposal: nothing changes then).
   */
  const preview = async (peer: string, db: OrbitEventsDb, entry: unknown): Promise<void> => {
    const e = entry as { id?: unknown, clock?: { time?: unknown }, payload?: { op?: unknown, value?: unknown } }
    if (e.id !== db.address || e.payload?.op !== 'ADD' || typeof e.clock?.time !== 'number') return
    const time = e.clock.time
    const heads = await db.log.heads() as Array<{ clock?: { time?: number } }>
    if (heads.some(h => (h.clock?.time ?? 0) >= time) || (previewed.get(peer)?.time ?? 0) >= time) return
    let verified: ChainEntry
    try {
      verified = await verifyChainEntry(e.payload.value, peer)
    } catch {
      return
    }
    log.debug({ peer }, 'newest chain entry read ahead of those before it')
    previewed.set(peer, { time, entry: verified })
    await options.onEntries(peer, [verified])
  }

  const catchUp = async (peer: string, head: string): Promise<void> => {
    const state = peers.get(peer)
    if (state == null) {
      if (opening.has(peer)) announced.set(peer, head)
      return
    }
    if (await state.db.log.has(head)) return
    // The entry is asked of the peer that announced it first: one request (bitswap took 0.6 s for
    // one block on an idle machine, after a restart). It is checked against its hash either way.
    if (!await options.blocks.has(CID.parse(head))) {
      await options.fetchBlock?.(peer, head, AbortSignal.timeout(FETCH_ENTRY_MS)).catch(() => false)
    }
    // log.get reads through Helia (bitswap when the block is not here), bounded in time. A read
    // still under way when the bound passes goes on, and fails when the chains close (OrbitDB
    // aborts its reads): that late failure is nobody's to handle.
    const reading = state.db.log.get(head)
    reading.catch(() => {})
    const entry = await Promise.race([
      reading,
      new Promise<undefined>((resolve) => { setTimeout(() => { resolve(undefined) }, CATCH_UP_MS).unref() })
    ])
    if (entry == null) return
    await preview(peer, state.db, entry)
    if (await state.db.log.joinEntry(entry)) {
      log.info({ peer, head }, 'caught up with a chain update missed earlier')
      schedule(peer)
    }
  }

  return {
    address: own.address,
    async append (entry) {
      const signed = await signChainEntry(signer, entry)
      await own.add(signed)
      return signed
    },
    async follow (peer, record) {
      if (peer === signer.id) return
      // One open per chain at a time: a roster announcement that arrives while the chain is being
      // reopened at start waits for that open (a second open of the same store would fail on its lock).
      const pending = opening.get(peer)
      if (pending?.address === record.address) return await pending.done
      const done = (async () => {
        await pending?.done.catch(() => {})
        const known = peers.get(peer)
        if (known != null && known.record.address === record.address) return
        if (known != null) await known.db.close()
        const started = performance.now()
        const db = await orbitdb.open(record.address, { signal: AbortSignal.timeout(30_000) })
        db.events.on('error', onError(record.address))
        peers.set(peer, { db, record, reading: Promise.resolve() })
        await options.saveRecord(peer, record)
        db.events.on('update', () => { schedule(peer) })
        log.debug({ peer, ms: Math.round(performance.now() - started) }, 'peer chain opened')
        schedule(peer)
        exchangeHeads(db)
        const head = announced.get(peer)
        announced.delete(peer)
        if (head != null) void catchUp(peer, head).catch((err: unknown) => { log.debug({ peer, err: (err as Error).message }, 'catching up with a chain failed') })
      })()
      const entry = { address: record.address, done }
      opening.set(peer, entry)
      try {
        await done
      } finally {
        if (opening.get(peer) === entry) opening.delete(peer)
      }
    },
    followed: () => [...peers].map(([peer, s]) => ({ peer, address: s.record.address })),
    head: async () => (await own.log.heads())[0]?.hash,
    catchUp,
    async newest () {
      const out: Uint8Array[] = []
      for (const db of [own, ...[...peers.values()].map(s => s.db)]) {
        const hash = (await db.log.heads())[0]?.hash
        if (hash == null) continue
        // An entry not in the blockstore (not read yet) is left out.
        const bytes = await options.blocks.get(CID.parse(hash, base58btc)).catch(() => undefined)
        if (bytes !== undefined) out.push(bytes)
      }
      return out
    },
    async offered (from, entries) {
      const owners = new Map<string, string>()
      for (const [peer, s] of peers) owners.set(s.record.address, peer)
      for (const [peer, o] of opening) owners.set(o.address, peer)
      await Promise.all(entries.map(async ({ cid, bytes }) => {
        const hash = cid.toString(base58btc)
        try {
          const entry = dagCbor.decode(bytes) as { id?: unknown, payload?: { value?: unknown } } | null
          const owner = typeof entry?.id === 'string' ? owners.get(entry.id) : undefined
          if (owner == null || owner === signer.id) return
          // Signed by the chain's owner before anything is stored: a peer cannot fill the
          // blockstore with entries nobody wrote.
          await verifyChainEntry(entry?.payload?.value, owner)
          if (!await options.blocks.has(cid)) await options.blocks.put(cid, bytes)
          await catchUp(owner, hash)
        } catch (err) {
          log.debug({ from, head: hash, err: (err as Error).message }, 'a chain entry sent by a peer refused')
        }
      }))
    },
    async own (limit = 100) {
      const out: ChainEntry[] = []
      for await (const { value } of own.iterator({ amount: limit })) out.push(value as ChainEntry)
      return out
    },
    async close () {
      for (const s of peers.values()) await s.reading
      await orbitdb.stop()
    }
  }
}
