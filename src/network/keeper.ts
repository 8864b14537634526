import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './logger.ts'

/**
 * Keeps this node connected to the peers it needs: the ones named by `--bootstrap`, and every node
 * of the network it has heard announce itself (the roster), dialled directly at the addresses it
 * announced. Without the second, a swarm formed through one bootstrap node is a star: when that
 * node is cut off (a network partition), the others cannot reach each other even on their own
 * side; and after a partition heals, nothing would reconnect the two sides. libp2p no longer
 * dials on its own (its auto-dialer went in 2.0), so the network layer does it here.
 *
 * Peers away are redialled every `everyMs` (one dial per peer at a time), a peer heard of is
 * dialled at once, and a peer not heard of for `forgetMs` is forgotten (the bootstrap peers never
 * are). Beyond `maxPeers` connections, no new peer is dialled. A connected peer whose roster
 * announcements stop for `staleMs` is reconnected.
 */
export interface PeerKeeper {
  /**
   * A roster announcement of `peer` (its addresses are already in the peer store); `remembered`:
   * a peer known from an earlier run, not heard yet.
   */
  heard: (peer: string, remembered?: boolean) => void
  stop: () => void
}

export interface PeerKeeperInit {
  libp2p: Libp2p
  bootstrap: Multiaddr[]
  everyMs: number
  /**
   * How long one dial may take. Longer than `everyMs`: on a busy machine a handshake can take
   * seconds, and a dial cut short every round would never connect (one dial per peer runs at a time).
   */
  dialTimeoutMs: number
  /**
   * How long a dial may wait for its TCP connection (before the handshake starts) before it is
   * given up and made again, at once. A connection attempt made while the network is cut loses
   * its SYN, and the system sends it again only after 1, 3, 7 s…: a peer back from a partition
   * would wait for that backoff. Each attempt sends a fresh SYN, so across a cut network one goes
   * out at least every 2 × `connectTimeoutMs`: the bound is doubled after an attempt given up,
   * once (an event loop too busy to see a connection made within the bound is not mistaken for a
   * cut network every time), and never above `dialTimeoutMs`. Any peer that connects is taken as a
   * sign that the network came back: the dials still waiting for their TCP connection (for longer
   * than RESTART_AFTER_MS) are made again at once instead of waiting out their bound. Unset: no
   * such bound (a dial is made again at the next round).
   */
  connectTimeoutMs?: number
  forgetMs: number
  /**
   * A connected peer heard of on the roster whose announcements stop for this long is hung up and
   * dialled again. Its announcements come every few seconds; when none arrives, the connection
   * carries nothing (seen once, after a connection was replaced: the peer stayed connected and
   * alone for a minute). Unset: never.
   */
  staleMs?: number
  maxPeers: number
  log: Logger
}

/** A dial waiting this long for its TCP connection is made again when another peer connects. */
const RESTART_AFTER_MS = 100

export function startPeerKeeper (init: PeerKeeperInit): PeerKeeper {
  const { libp2p, everyMs, forgetMs, maxPeers, log } = init
  const self = libp2p.peerId.toString()
  /** Peers heard of, by id: when last heard. */
  const heard = new Map<string, number>()
  const dialing = new Set<string>()
  /** Peers heard of, by id: when a round last found them away (silence is counted from there). */
  const away = new Map<string, number>()
  let stopped = false
  /** A roster announcement arrived since the start. */
  let anyHeard = false
  /** Since when this node is connected to a bootstrap peer and has heard nobody on the roster. */
  let lonelySince: number | undefined
  const bootstrapIds = init.bootstrap.flatMap(ma => ma.getComponents().find(c => c.name === 'p2p')?.value ?? [])
  const redial = (peer: string): void => {
    dialing.add(peer)
    libp2p.hangUp(peerIdFromString(peer)).catch(() => {}).finally(() => {
      dialing.delete(peer)
      dial(peer, peerIdFromString(peer))
    })
  }

  const connected = (peer: string): boolean => libp2p.getConnections(peerIdFromString(peer)).length > 0
  /** Dials given up in a row, by peer, for want of a TCP connection (`connectTimeoutMs`). */
  const unconnected = new Map<string, number>()
  /** Dials waiting for their TCP connection, by peer: when they began, and how to make them again. */
  const waiting = new Map<string, { since: number, restart: () => void }>()
  const dial = (key: string, target: Parameters<Libp2p['dial']>[0]): void => {
    if (stopped || dialing.has(key)) return
    dialing.add(key)
    const abort = new AbortController()
    const whole = setTimeout(() => { abort.abort(new Error(`no connection within ${init.dialTimeoutMs} ms`)) }, init.dialTimeoutMs).unref()
    let connecting: NodeJS.Timeout | undefined
    let again = false
    if (init.connectTimeoutMs != null) {
      waiting.set(key, {
        since: performance.now(),
        restart: () => { again = true; abort.abort(new Error('made again: another peer connected')) }
      })
      const bound = Math.min(init.dialTimeoutMs, init.connectTimeoutMs * 2 ** Math.min(1, unconnected.get(key) ?? 0))
      connecting = setTimeout(() => {
        unconnected.set(key, (unconnected.get(key) ?? 0) + 1)
        again = true
        abort.abort(new Error(`no TCP connection within ${bound} ms`))
      }, bound).unref()
    }
    libp2p.dial(target, {
      signal: abort.signal,
      // The handshake starts once the TCP connection is made: from then on only the whole bound applies.
      onProgress: (event: { type: string }) => {
        if (event.type.startsWith('upgrader:') && connecting != null) {
          clearTimeout(connecting)
          connecting = undefined
          unconnected.delete(key)
          waiting.delete(key)
        }
      }
    } as Parameters<Libp2p['dial']>[1])
      .then(() => { log.debug({ peer: key }, 'peer reconnected') }, (err: unknown) => { log.debug({ peer: key, err: (err as Error).message }, 'dialling a peer failed; will retry') })
      .finally(() => {
        clearTimeout(whole)
        clearTimeout(connecting)
        waiting.delete(key)
        dialing.delete(key)
        if (again) dial(key, target)
      })
  }
  const onConnect = (): void => {
    const now = performance.now()
    for (const [key, w] of waiting) {
      if (now - w.since < RESTART_AFTER_MS) continue
      waiting.delete(key)
      w.restart()
    }
  }
  libp2p.addEventListener('peer:connect', onConnect)
  const room = (): boolean => libp2p.getConnections().length < maxPeers

  const tick = (): void => {
    for (const ma of init.bootstrap) {
      const id = ma.getComponents().find(c => c.name === 'p2p')?.value
      if (id != null && !connected(id)) dial(id, ma)
    }
    const now = Date.now()
    for (const [peer, at] of heard) {
      if (now - at > forgetMs) { heard.delete(peer); away.delete(peer); unconnected.delete(peer) } else if (!connected(peer)) {
        away.set(peer, now)
        if (room()) dial(peer, peerIdFromString(peer))
      } else if (init.staleMs != null && now - Math.max(at, away.get(peer) ?? 0) > init.staleMs && !dialing.has(peer)) {
        // Silent since it was last heard, or since it came back (it announces once connected).
        log.debug({ peer, silentMs: now - at }, 'a connected peer has not been heard for a while: reconnecting')
        // The new connection gets a whole period before it is judged in turn.
        heard.set(peer, now)
        redial(peer)
      }
    }
    // Connected to the bootstrap peers and still alone: nobody heard on the roster, so nobody
    // heard of this node either (seen at swarm start on a busy machine: a connection that carried
    // no pubsub traffic for a minute). The bootstrap connections are made again.
    if (init.staleMs != null && !anyHeard) {
      const linked = bootstrapIds.filter(id => connected(id) && !dialing.has(id))
      if (linked.length === 0) lonelySince = undefined
      else if (lonelySince === undefined) lonelySince = now
      else if (now - lonelySince > init.staleMs) {
        log.info({ peers: linked }, 'connected to the bootstrap peers but no node heard on the roster: reconnecting')
        lonelySince = now
        for (const id of linked) redial(id)
      }
    }
  }
  const timer = setInterval(tick, everyMs)
  timer.unref()

  return {
    heard (peer, remembered = false) {
      if (stopped || peer === self) return
      if (!remembered) anyHeard = true
      const known = heard.has(peer)
      heard.set(peer, Date.now())
      if (!known && !connected(peer) && room()) dial(peer, peerIdFromString(peer))
    },
    stop () {
      stopped = true
      clearInterval(timer)
      libp2p.removeEventListener('peer:connect', onConnect)
    }
  }
}
