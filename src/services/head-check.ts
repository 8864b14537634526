import type { CID } from 'multiformats/cid'
import type { Sync } from './sync.ts'
import type { VerifyService } from './verify.ts'

/** Errors that say a peer's published DAG is bad (not that the network failed): never retried. */
export const COHERENCE_CODES = new Set(['ERR_BLOCK_CORRUPT', 'ERR_BLOCK_INVALID', 'ERR_SIGNATURE_INVALID', 'ERR_FRAME_INVALID', 'ERR_COMMIT_INVALID', 'ERR_TRACE_STEP_INVALID', 'ERR_TREE_INVALID', 'ERR_CAR_INVALID', 'ERR_COHERENCE'])

/** Why a peer's published head fails the coherence check. */
export interface Problem {
  code: string
  message: string
}

/** How many heads that passed are remembered (a swarm converging publishes the same few). */
const PASSED_KEPT = 1024

/**
 * The coherence check of a head a peer published: its DAG synced from that peer, and what it
 * adds to `have` (heads this node holds, all checked already) verified. Undefined when it passes;
 * a failure of the network (not of the DAG) is thrown, to be retried.
 *
 * A swarm that converges publishes the same head from every node, often at once (a partition
 * heals): a head already passed is not verified again (it is content-addressed: what passed
 * once passes for good), and a head being checked for one peer is waited for by the others
 * instead of being fetched and verified again. Only a pass is shared: a failure may be the
 * fault of the peer that answered (a corrupt block sent), so each peer's failure is its own.
 */
export function createHeadCheck (sync: Sync, verifier: VerifyService): (peer: string, head: CID, have: CID[]) => Promise<Problem | undefined> {
  const passed = new Set<string>()
  /** Checks under way, by head: whether each passed. */
  const checking = new Map<string, Promise<boolean>>()

  const pass = (key: string): void => {
    passed.add(key)
    if (passed.size > PASSED_KEPT) passed.delete(passed.values().next().value as string)
  }

  const checkOnce = async (peer: string, head: CID, have: CID[]): Promise<Problem | undefined> => {
    try {
      await sync(head, { from: [peer], have })
      if (passed.has(head.toString()) || have.some(h => h.equals(head))) return undefined
      const report = await verifier.verify(head.toString(), { since: have })
      if (!report.ok) return { code: report.problems[0]?.code ?? 'ERR_COHERENCE', message: report.problems[0]?.message ?? 'fails the coherence check' }
      return undefined
    } catch (err) {
      // A sync refused for what the peer sent names the fault as its reason.
      const e = err as { code?: string, details?: { reason?: unknown } }
      const code = e.code === 'ERR_SYNC_PROTOCOL' && typeof e.details?.reason === 'string' ? e.details.reason : e.code
      if (code == null || !COHERENCE_CODES.has(code)) throw err
      return { code, message: (err as Error).message }
    }
  }

  return async (peer, head, have) => {
    const key = head.toString()
    // The blocks are synced all the same (a no-op when they are here): a head that passed may have
    // been collected since.
    const pending = checking.get(key)
    if (pending != null) await pending
    const run = checkOnce(peer, head, have)
    const ok = run.then(problem => problem == null, () => false)
    checking.set(key, ok)
    try {
      const problem = await run
      if (problem == null) pass(key)
      return problem
    } finally {
      if (checking.get(key) === ok) checking.delete(key)
    }
  }
}
