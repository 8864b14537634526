import type { CID } from 'multiformats/cid'
import { decodeCbor, encodeBlock } from './block.ts'
import { toJsonView } from './json-view.ts'
import type { Block } from './block.ts'
import { CommitInvalidError } from './errors.ts'
import { describeSchemaError, validateCommitJson, validateConsensusCommitJson } from './schemas.ts'
import { signValue, verifyValueSignature } from './signing.ts'
import type { Signer } from './signing.ts'

/** A frame id that a merge found changed two ways. `null` means removed on that side. */
export interface ForkRecord {
  id: string
  ours: CID | null
  theirs: CID | null
}

/** One signed version of the frame set. */
export interface Commit {
  /** Root of the frame tree (id → frame CID). */
  tree: CID
  parents: CID[]
  /** Peer id of the signing node. */
  author: string
  /** Milliseconds since the Unix epoch. */
  time: number
  message: string
  /** Heads of the sessions whose reasoning led to this version. */
  sessions?: CID[]
  /** Conflicts kept by a merge (the tree holds `ours`). */
  forks?: ForkRecord[]
  sig: Uint8Array
  /**
   * Set on a consensus commit (the rule version that built it, see core/consensus): a block of
   * only `{consensus, tree, parents, forks}`, recomputable by anyone, so it has no author (''),
   * message ('') or signature (empty) of its own, and its `time` is the newest of its parents'
   * (filled in by `readCommit`, 0 straight out of `decodeCommit`).
   */
  consensus?: 1
}

export interface CommitFields {
  tree: CID
  parents: CID[]
  message: string
  time?: number
  sessions?: CID[]
  forks?: ForkRecord[]
}

/** Builds, signs and encodes a commit. */
export async function createCommit (signer: Signer, fields: CommitFields): Promise<Block & { commit: Commit }> {
  const unsigned: Record<string, unknown> = {
    tree: fields.tree,
    parents: fields.parents,
    author: signer.id,
    time: fields.time ?? Date.now(),
    message: fields.message
  }
  if (fields.sessions != null && fields.sessions.length > 0) unsigned.sessions = fields.sessions
  if (fields.forks != null && fields.forks.length > 0) unsigned.forks = fields.forks
  const commit = await signValue(signer, unsigned) as unknown as Commit
  return { ...encodeBlock(commit), commit }
}

/** Decodes a commit block and checks its shape (not its signature: see verifyCommit). */
export function decodeCommit (cid: CID, bytes: Uint8Array): Commit {
  const value = decodeCbor(cid, bytes)
  if (!looksLikeCommit(value)) throw new CommitInvalidError(`block ${cid} is not a commit`, { cid: cid.toString() })
  const consensus = isConsensusShaped(value)
  const validate = consensus ? validateConsensusCommitJson : validateCommitJson
  let json: unknown
  try {
    json = toJsonView(value)
  } catch (err) {
    throw new CommitInvalidError(`block ${cid} is not a valid commit: ${(err as Error).message}`, { cid: cid.toString() })
  }
  if (!validate(json)) {
    throw new CommitInvalidError(`block ${cid} is not a valid ${consensus ? 'consensus ' : ''}commit: ${describeSchemaError(validate.errors)}`, { cid: cid.toString() })
  }
  if (!consensus) return value as Commit
  const c = value as { consensus: 1, tree: CID, parents: CID[], forks?: ForkRecord[] }
  return { tree: c.tree, parents: c.parents, author: '', time: 0, message: '', sig: new Uint8Array(0), consensus: c.consensus, ...(c.forks != null ? { forks: c.forks } : {}) }
}

/**
 * Throws `ERR_SIGNATURE_INVALID` unless the commit is signed by its author. A consensus commit
 * carries no signature: it is checked by recomputing it (`checkConsensusCommit` in core/consensus).
 */
export async function verifyCommit (cid: CID, commit: Commit): Promise<void> {
  if (commit.consensus != null) return
  await verifyValueSignature(`commit ${cid}`, commit.author, commit as unknown as Record<string, unknown>)
}

function isConsensusShaped (value: unknown): boolean {
  return value !== null && typeof value === 'object' && 'consensus' in value && !('author' in value)
}

export function looksLikeCommit (value: unknown): boolean {
  return value !== null && typeof value === 'object' && 'tree' in value && 'parents' in value && ('author' in value || 'consensus' in value)
}
