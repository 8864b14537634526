import assert from 'node:assert/strict'
import { describe, it, mock } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { startPeerKeeper } from '../../src/network/keeper.ts'
import { silentLogger } from '../../src/network/logger.ts'

async function peerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** What both fakes below share: `self`, the `peer:connect` events, and a connection per peer in `connected`. */
function fakeBase (self: PeerId, connected: Set<string>): { events: EventTarget, base: object } {
  const events = new EventTarget()
  return {
    events,
    base: {
      peerId: self,
      addEventListener: events.addEventListener.bind(events),
      removeEventListener: events.removeEventListener.bind(events),
      getConnections: (peer?: PeerId) => peer == null ? [...connected].map(p => ({ remotePeer: p })) : connected.has(peer.toString()) ? [{ remotePeer: peer }] : []
    }
  }
}

/**
 * The part of libp2p the keeper uses, recording what it is asked: a connection per peer in
 * `connected`, dials that connect at once, hang-ups that close.
 */
function fakeLibp2p (self: PeerId): { libp2p: Libp2p, connected: Set<string>, dials: string[], hangUps: string[] } {
  const connected = new Set<string>()
  const dials: string[] = []
  const hangUps: string[] = []
  const libp2p = {
    ...fakeBase(self, connected).base,
    dial: async (target: PeerId | Multiaddr) => {
      // A bootstrap peer is dialled at its multiaddr (ending in /p2p/ID).
      const id = 'getComponents' in target ? target.getComponents().find(c => c.name === 'p2p')?.value as string : target.toString()
      dials.push(id)
      connected.add(id)
      return { remotePeer: target }
    },
    hangUp: async (peer: PeerId) => {
      hangUps.push(peer.toString())
      connected.delete(peer.toString())
    }
  } as unknown as Libp2p
  return { libp2p, connected, dials, hangUps }
}

/**
 * A libp2p across a cut network: dials of `slow` connect at once and then take 150 ms of
 * handshake; every other dial waits for a SYN-ACK that never comes, until it is aborted.
 */
function cutLibp2p (self: PeerId, slow?: PeerId): { libp2p: Libp2p, events: EventTarget, dials: Array<{ peer: string, aborted: boolean }>, connected: Set<string> } {
  const dials: Array<{ peer: string, aborted: boolean }> = []
  const connected = new Set<string>()
  const { events, base } = fakeBase(self, connected)
  const libp2p = {
    ...base,
    dial: async (target: PeerId, options: { signal: AbortSignal, onProgress?: (e: { type: string }) => void }) => {
      const dial = { peer: target.toString(), aborted: false }
      dials.push(dial)
      options.onProgress?.({ type: 'tcp:open-connection' })
      if (dial.peer === slow?.toString()) {
        // Connected at once; its handshake then takes longer than the connect bound.
        options.onProgress?.({ type: 'upgrader:encrypt-outbound-connection' })
        await new Promise(resolve => setTimeout(resolve, 150))
        if (options.signal.aborted) throw new Error('aborted')
        connected.add(dial.peer)
        return { remotePeer: target }
      }
      // Across a cut network: no SYN-ACK ever comes.
      return await new Promise((_resolve, reject) => {
        options.signal.addEventListener('abort', () => { dial.aborted = true; reject(options.signal.reason) }, { once: true })
      })
    },
    hangUp: async () => {}
  } as unknown as Libp2p
  return { libp2p, events, dials, connected }
}

describe('peer keeper (network/keeper.ts)', () => {
  it('dials a peer heard of at once, and reconnects a connected peer that has gone silent; a peer still heard, or never heard, is left alone', async () => {
    const [self, quiet, talking, stock] = await Promise.all([peerId(), peerId(), peerId(), peerId()])
    const fake = fakeLibp2p(self)
    // A stock node connected to this one: never announces on the roster.
    fake.connected.add(stock.toString())
    // Simulated time: the keeper's rounds and clock advance only when the test says so.
    mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 })
    const keeper = startPeerKeeper({ libp2p: fake.libp2p, bootstrap: [], everyMs: 20, dialTimeoutMs: 1000, forgetMs: 60_000, staleMs: 150, maxPeers: 64, log: silentLogger })
    try {
      keeper.heard(quiet.toString())
      keeper.heard(talking.toString())
      await turn()
      assert.deepEqual(new Set(fake.dials), new Set([quiet.toString(), talking.toString()]))
      // `talking` keeps announcing every 40 ms, `quiet` says nothing more: 400 ms go by.
      for (let i = 0; i < 10; i++) {
        for (let t = 0; t < 2; t++) {
          mock.timers.tick(20)
          await turn()
        }
        keeper.heard(talking.toString())
      }
      assert.ok(fake.hangUps.includes(quiet.toString()), 'the silent peer is hung up')
      assert.ok(fake.dials.filter(d => d === quiet.toString()).length >= 2, 'and dialled again')
      assert.ok(fake.connected.has(quiet.toString()))
      assert.ok(!fake.hangUps.includes(talking.toString()), 'a peer still heard is not touched')
      assert.ok(!fake.hangUps.includes(stock.toString()), 'a peer never heard on the roster is not touched')
      // Reconnected, it gets a whole period before it is judged again.
      const hungUp = fake.hangUps.filter(h => h === quiet.toString()).length
      assert.ok(hungUp <= 3, `reconnected ${hungUp} times in 400 ms with a 150 ms period`)
      // A peer away for long (its last announcement is old) that comes back is not hung up at
      // once: its silence counts from when it was last seen away.
      fake.connected.delete(talking.toString())
      const dials = fake.dials.length
      fake.libp2p.dial = async (target) => { fake.dials.push(target.toString()); throw new Error('away') }
      for (let t = 0; t < 15; t++) {
        mock.timers.tick(20)
        await turn()
      }
      assert.ok(fake.dials.length > dials, 'the peer away is redialled')
      fake.connected.add(talking.toString())
      for (let t = 0; t < 5; t++) {
        mock.timers.tick(20)
        await turn()
      }
      assert.ok(!fake.hangUps.includes(talking.toString()), 'a peer just back is not hung up')
    } finally {
      keeper.stop()
      mock.timers.reset()
    }
  })

  it('reconnects the bootstrap peers while connected to them and nobody is heard on the roster; once a node is heard, never', async () => {
    const [self, boot, other] = await Promise.all([peerId(), peerId(), peerId()])
    const fake = fakeLibp2p(self)
    mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 })
    const keeper = startPeerKeeper({ libp2p: fake.libp2p, bootstrap: [multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${boot.toString()}`)], everyMs: 20, dialTimeoutMs: 1000, forgetMs: 60_000, staleMs: 150, maxPeers: 64, log: silentLogger })
    const rounds = async (n: number): Promise<void> => {
      for (let t = 0; t < n; t++) {
        mock.timers.tick(20)
        await turn()
      }
    }
    try {
      // A peer remembered from an earlier run is not a node heard on the roster.
      keeper.heard(other.toString(), true)
      await rounds(2)
      assert.ok(fake.connected.has(boot.toString()), 'the bootstrap peer is dialled')
      await rounds(6)
      assert.equal(fake.hangUps.filter(h => h === boot.toString()).length, 0, 'not before the period')
      await rounds(10)
      assert.ok(fake.hangUps.includes(boot.toString()), 'connected and alone for longer than the period: hung up')
      assert.ok(fake.connected.has(boot.toString()), 'and dialled again')
      // Heard on the roster (it announces every 40 ms): the bootstrap connection is left alone.
      const hungUp = fake.hangUps.length
      for (let i = 0; i < 15; i++) {
        keeper.heard(boot.toString())
        await rounds(2)
      }
      assert.ok(!fake.hangUps.slice(hungUp).includes(boot.toString()), 'a node heard: no reconnection')
    } finally {
      keeper.stop()
      mock.timers.reset()
    }
  })

  it('gives up a dial whose TCP connection is not made within connectTimeoutMs and dials again at once (a fresh SYN), but never a dial whose handshake has started', async () => {
    const [self, cut, slow] = await Promise.all([peerId(), peerId(), peerId()])
    const { libp2p, dials, connected } = cutLibp2p(self, slow)
    const keeper = startPeerKeeper({ libp2p, bootstrap: [], everyMs: 60_000, dialTimeoutMs: 5000, connectTimeoutMs: 30, forgetMs: 60_000, maxPeers: 64, log: silentLogger })
    try {
      keeper.heard(cut.toString())
      keeper.heard(slow.toString())
      await new Promise(resolve => setTimeout(resolve, 400))
      const cutDials = dials.filter(d => d.peer === cut.toString())
      const slowDials = dials.filter(d => d.peer === slow.toString())
      assert.ok(cutDials.length >= 3, `the unreachable peer is dialled afresh: ${cutDials.length} dials`)
      assert.ok(cutDials.slice(0, -1).every(d => d.aborted), 'each attempt before the last was given up')
      assert.equal(slowDials.length, 1, 'a dial past its TCP connection is left to finish')
      assert.equal(slowDials[0]?.aborted, false)
      assert.ok(connected.has(slow.toString()))
    } finally {
      keeper.stop()
    }
  })

  it('makes a dial still waiting for its TCP connection again at once when another peer connects (the network is back: a fresh SYN, not the rest of the bound)', async () => {
    const [self, cut, other] = await Promise.all([peerId(), peerId(), peerId()])
    const { libp2p, events, dials } = cutLibp2p(self)
    const keeper = startPeerKeeper({ libp2p, bootstrap: [], everyMs: 60_000, dialTimeoutMs: 60_000, connectTimeoutMs: 30_000, forgetMs: 60_000, maxPeers: 64, log: silentLogger })
    try {
      keeper.heard(cut.toString())
      assert.equal(dials.length, 1)
      // A peer that connects at once after the dial began does not restart it (it may be on its way).
      events.dispatchEvent(new CustomEvent('peer:connect', { detail: other }))
      await turn()
      assert.equal(dials.length, 1)
      await new Promise(resolve => setTimeout(resolve, 150))
      events.dispatchEvent(new CustomEvent('peer:connect', { detail: other }))
      await turn()
      await turn()
      assert.equal(dials.length, 2, 'dialled again at once')
      assert.equal(dials[0]?.aborted, true)
      assert.equal(dials[1]?.aborted, false)
      assert.equal(dials[1]?.peer, cut.toString())
    } finally {
      keeper.stop()
    }
  })
})
