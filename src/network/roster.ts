import * as dagCbor from '@ipld/dag-cbor'
import type { GossipSub, Message, SubscriptionChangeData } from '@libp2p/gossipsub'
import { signValue, verifyValueSignature } from '../core/signing.ts'
import type { Signer } from '../core/signing.ts'
import type { Logger } from './logger.ts'

/** One node's announcement: its peer id, chain address and listen addresses, signed by its key. */
export interface RosterEntry {
  node: string
  chain: string
  time: number
  /** Where the node listens, so that peers reached only through others can dial it directly. */
  addrs: string[]
  /**
   * Hash of the newest entry of its chain: announced again with every roster message, so that a
   * node that missed an update (or joined late) catches up without anyone writing.
   */
  head?: string
}

export interface RosterOptions {
  pubsub: GossipSub
  network: string
  signer: Signer
  chain: string
  /** This node's current listen addresses. */
  addrs: () => string[]
  /** The newest entry of this node's chain. */
  head: () => Promise<string | undefined>
  log: Logger
  onPeer: (entry: RosterEntry) => void
}

/**
 * How often a node announces itself: every second while the swarm forms, then every 5 s. The
 * announcement names the newest entry of the node's chain: a peer that missed an update (a node
 * back from a partition whose chain replication has not caught up yet) fetches it from there, so
 * no view stays stale for longer than this (a message is about 300 bytes).
 */
const FAST_MS = 1000
const FAST_FOR_MS = 30_000
const SLOW_MS = 5000
/** After a new connection or subscription, the announcement waits this long (the peers exchange their subscriptions first; several at once go in one). */
const AFTER_CONNECT_MS = 150

/**
 * The roster of a network: every node announces `{ node, chain }` on the pubsub topic
 * `framehub/<network>/roster`, signed with its node key, at start, whenever a peer joins the
 * topic, shortly after a new connection, and periodically; every node follows the chains it hears of.
 */
export function startRoster (options: RosterOptions): { connected: () => void, stop: () => void } {
  const topic = `framehub/${options.network}/roster`
  const { pubsub, log } = options
  const started = Date.now()

  const announce = async (): Promise<void> => {
    const head = await options.head()
    const value = await signValue(options.signer, { node: options.signer.id, chain: options.chain, time: Date.now(), addrs: options.addrs().slice(0, 16), ...(head != null ? { head } : {}) })
    await pubsub.publish(topic, dagCbor.encode(value))
  }
  const announceSoon = (): void => { announce().catch((err: unknown) => { log.debug({ err: (err as Error).message }, 'roster announce failed') }) }

  const onMessage = (evt: CustomEvent<Message>): void => {
    if (evt.detail.topic !== topic) return
    void (async () => {
      try {
        const value = dagCbor.decode(evt.detail.data) as Record<string, unknown>
        if (typeof value?.node !== 'string' || typeof value.chain !== 'string' || typeof value.time !== 'number' || !value.chain.startsWith('/orbitdb/')) throw new Error('not a roster entry')
        await verifyValueSignature('roster entry', value.node, value)
        if (value.node === options.signer.id) return
        const addrs = Array.isArray(value.addrs) ? value.addrs.filter((a): a is string => typeof a === 'string').slice(0, 16) : []
        const head = typeof value.head === 'string' && value.head.length <= 128 ? value.head : undefined
        options.onPeer({ node: value.node, chain: value.chain, time: value.time, addrs, ...(head != null ? { head } : {}) })
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'roster message rejected')
      }
    })()
  }
  /**
   * One announcement shortly after a peer connects or joins the topic: the peers that meet at once
   * (a partition heals, every node reconnects to every other) get one message, not one each.
   */
  let soon: NodeJS.Timeout | undefined
  const announceShortly = (): void => {
    if (soon != null) return
    soon = setTimeout(() => { soon = undefined; announceSoon() }, AFTER_CONNECT_MS)
    soon.unref()
  }
  const onSubscription = (evt: CustomEvent<SubscriptionChangeData>): void => {
    if (evt.detail.subscriptions.some(s => s.topic === topic && s.subscribe)) announceShortly()
  }

  pubsub.addEventListener('message', onMessage)
  pubsub.addEventListener('subscription-change', onSubscription)
  pubsub.subscribe(topic)
  let timer: NodeJS.Timeout | undefined
  const tick = (): void => {
    announceSoon()
    timer = setTimeout(tick, Date.now() - started < FAST_FOR_MS ? FAST_MS : SLOW_MS)
    timer.unref()
  }
  tick()
  return {
    /** A peer connected: announce shortly, so that it learns of this node at once. */
    connected: announceShortly,
    stop: () => {
      clearTimeout(timer)
      clearTimeout(soon)
      pubsub.removeEventListener('message', onMessage)
      pubsub.removeEventListener('subscription-change', onSubscription)
      try { pubsub.unsubscribe(topic) } catch { /* already stopped */ }
    }
  }
}
