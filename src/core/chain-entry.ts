import { CID } from 'multiformats/cid'
import { SignatureInvalidError } from './errors.ts'
import { checkBranchName } from './ref-spec.ts'
import { signValue, verifyValueSignature } from './signing.ts'
import type { Signer } from './signing.ts'

/**
 * What a node publishes on its chain: ref updates (`shared/NAME` → commit) and session heads.
 * Entries hold CIDs (as strings, so that OrbitDB's entry blocks link to nothing and stay small),
 * never bulk data; the blocks travel by the sync protocol. Each entry is also signed by the
 * node's own Ed25519 key (the one that signs its commits and steps) on top of OrbitDB's
 * identity signature, so a reader can tie it to a peer id without trusting the roster.
 */
export interface ChainEntry {
  v: 1
  /** Peer id of the node that wrote it. */
  node: string
  /** Milliseconds since the epoch, the writer's clock. */
  time: number
  /**
   * A ref update, when present: `shared/NAME` and the commit it now points to; `decision`, when
   * the head is a canonical head this node adopted: the CID of the consensus decision record.
   */
  ref?: { name: string, head: string, decision?: string }
  /** Session name → its heads (step CIDs), for the sessions published by this entry. */
  sessions?: Record<string, string[]>
  sig: Uint8Array
}

export type UnsignedChainEntry = Omit<ChainEntry, 'sig' | 'v' | 'node' | 'time'>

const MAX_SESSIONS = 1024
const MAX_HEADS = 256

export async function signChainEntry (signer: Signer, entry: UnsignedChainEntry, time = Date.now()): Promise<ChainEntry> {
  const value: Record<string, unknown> = { v: 1, node: signer.id, time }
  if (entry.ref != null) value.ref = { name: entry.ref.name, head: entry.ref.head, ...(entry.ref.decision != null ? { decision: entry.ref.decision } : {}) }
  if (entry.sessions != null) value.sessions = entry.sessions
  return await signValue(signer, value) as unknown as ChainEntry
}

/** Checks shape, CIDs and signature; the entry must be signed by `expectedNode` when given. */
export async function verifyChainEntry (value: unknown, expectedNode?: string): Promise<ChainEntry> {
  const e = value as Partial<ChainEntry> | null
  const bad = (why: string): never => { throw new SignatureInvalidError(`chain entry rejected: ${why}`) }
  if (e == null || typeof e !== 'object' || e.v !== 1) return bad('not a framehub chain entry (v: 1)')
  if (typeof e.node !== 'string' || typeof e.time !== 'number' || !(e.sig instanceof Uint8Array)) return bad('node, time and sig are required')
  if (expectedNode != null && e.node !== expectedNode) return bad(`written for ${e.node} on the chain of ${expectedNode}`)
  if (e.ref != null) {
    if (typeof e.ref.name !== 'string' || !e.ref.name.startsWith('shared/')) return bad('a ref update names a shared/* branch')
    // It becomes a local branch and a remote-tracking ref: the same rules as a branch made here.
    try { checkBranchName(e.ref.name) } catch (err) { return bad((err as Error).message) }
    checkCid(e.ref.head, bad)
    if (e.ref.decision !== undefined) checkCid(e.ref.decision, bad)
  }
  if (e.sessions != null) {
    const names = Object.keys(e.sessions)
    if (typeof e.sessions !== 'object' || names.length > MAX_SESSIONS) return bad('sessions must map names to heads')
    for (const name of names) {
      const heads = e.sessions[name]
      if (!Array.isArray(heads) || heads.length === 0 || heads.length > MAX_HEADS) return bad(`session ${name} needs 1..${MAX_HEADS} heads`)
      for (const h of heads) checkCid(h, bad)
    }
  }
  await verifyValueSignature('chain entry', e.node, e as unknown as Record<string, unknown>)
  return e as ChainEntry
}

function checkCid (text: unknown, bad: (why: string) => never): void {
  if (typeof text !== 'string') bad('CIDs are strings')
  try {
    CID.parse(text as string)
  } catch {
    bad(`"${String(text)}" is not a CID`)
  }
}
