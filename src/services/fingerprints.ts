import type { CID } from 'multiformats/cid'
import { encodeJson, keys } from '../storage/state.ts'
import type { ServiceComponents } from './context.ts'

/** A peer's record, kept by every node that follows its chain. */
export interface Fingerprint {
  peer: string
  /** First and last time an entry of its chain was processed here, ms since the epoch. */
  firstSeen: number
  lastSeen: number
  /** Entries of its chain processed here. */
  chainLength: number
  /** Heads it published on shared branches (that synced). */
  proposals: number
  /** Its commits that became part of a canonical head decided here (as maximal candidates). */
  canonical: number
  /** Published heads that failed the coherence check here. */
  coherenceFailures: number
  /** The last published head failed the coherence check, and no good one came since: its vote weighs 0. */
  failing: boolean
  lastFailure?: { ref: string, head: string, code: string, message: string, time: number }
}

export interface FingerprintStore {
  get (peer: string): Promise<Fingerprint | undefined>
  all (): Promise<Fingerprint[]>
  /** Entries of `peer`'s chain were processed. */
  seen (peer: string, entries: number): Promise<void>
  /** `peer` published a head that passed the coherence check. */
  proposed (peer: string): Promise<void>
  /** `peer` published a head that failed the coherence check. */
  failed (peer: string, failure: { ref: string, head: CID, code: string, message: string }): Promise<void>
  /** Commits of these authors became canonical. */
  credited (authors: string[]): Promise<void>
  /**
   * The default weighting: 1, or 0 while the peer's last published head fails the coherence
   * check (it is outvoted and poisons nobody until it publishes a good one).
   */
  weight (peer: string): Promise<number>
}

/** Fingerprints in the repository's state (`fingerprint <peer>`, JSON). */
export function createFingerprintStore ({ state, writeBatch }: Pick<ServiceComponents, 'state' | 'writeBatch'>): FingerprintStore {
  const get = async (peer: string): Promise<Fingerprint | undefined> => await state.json<Fingerprint>(keys.fingerprint(peer))
  // Updates of one record never interleave (each is a read-modify-write).
  let tail: Promise<unknown> = Promise.resolve()
  const update = async (peer: string, change: (f: Fingerprint) => void): Promise<void> => {
    const run = tail.then(async () => {
      const now = Date.now()
      const f = await get(peer) ?? { peer, firstSeen: now, lastSeen: now, chainLength: 0, proposals: 0, canonical: 0, coherenceFailures: 0, failing: false }
      change(f)
      await writeBatch().putState(keys.fingerprint(peer), encodeJson(f)).write()
    })
    tail = run.catch(() => {})
    await run
  }
  return {
    get,
    async all () {
      const out: Fingerprint[] = []
      for await (const [peer] of state.scan(keys.fingerprintPrefix)) {
        const f = await get(peer)
        if (f != null) out.push(f)
      }
      return out
    },
    seen: async (peer, entries) => { await update(peer, f => { f.lastSeen = Date.now(); f.chainLength += entries }) },
    proposed: async (peer) => { await update(peer, f => { f.proposals++; f.failing = false }) },
    failed: async (peer, failure) => {
      await update(peer, f => {
        f.coherenceFailures++
        f.failing = true
        f.lastFailure = { ref: failure.ref, head: failure.head.toString(), code: failure.code, message: failure.message, time: Date.now() }
      })
    },
    credited: async (authors) => { for (const a of authors) await update(a, f => { f.canonical++ }) },
    weight: async (peer) => (await get(peer))?.failing === true ? 0 : 1
  }
}
