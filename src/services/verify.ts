import type { CID } from 'multiformats/cid'
import { cidKey } from '../core/cid.ts'
import { decodeAny, decodeCbor, linksOf } from '../core/block.ts'
import { decodeCommit, looksLikeCommit, verifyCommit } from '../core/commit.ts'
import type { Commit } from '../core/commit.ts'
import { checkConsensusCommit, CommitGraph } from '../core/consensus/index.ts'
import { isFramehubError } from '../core/errors.ts'
import { decodeFrame, frameLinks, looksLikeFrame } from '../core/frame.ts'
import { decodeTraceStep, looksLikeTraceStep, verifyTraceStep } from '../core/trace-step.ts'
import { decodeTreeNode, isTreeNode, treeNodes } from '../core/tree/index.ts'
import { missingBlocks } from '../core/missing.ts'
import { pacer } from '../core/pace.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'
import type { RefService } from './refs.ts'

/** One thing the coherence check found wrong. */
export interface Problem {
  cid: string
  code: string
  message: string
}

export interface VerifyReport {
  root: CID
  ok: boolean
  /** Blocks checked. */
  blocks: number
  problems: Problem[]
}

export interface VerifyService {
  /**
   * The coherence check: every block reachable from `spec` (default HEAD) present and hash-valid,
   * schema-valid, signatures valid, parents and links resolvable. Reports every problem found.
   */
  verify (spec?: string, options?: VerifyOptions): Promise<VerifyReport>
}

/** Blocks checked so far. */
export interface VerifyProgress {
  blocks: number
}

/** Blocks between two progress reports. */
const PROGRESS_EVERY = 4096

export interface VerifyOptions extends CallOptions, ProgressOptions<VerifyProgress> {
  /**
   * Roots already checked: only what `spec` adds to them is checked (the blocks a peer holding
   * them would lack, see core/missing.ts), each block decoded, schema- and signature-checked, and
   * its links present. What the roots reach is trusted. Used by publishing, so that a commit on a
   * large branch is checked in O(change).
   */
  since?: CID[]
}

type Kind = 'commit' | 'tree' | 'frame' | 'step' | 'any'

/** Checks one block for what it is (decoded by its kind, signature if signed); returns its links. */
async function checkBlock (cid: CID, bytes: Uint8Array, checkCommit: (cid: CID, commit: Commit) => Promise<void>): Promise<CID[]> {
  if (cid.code === 0x71) {
    const value = decodeCbor(cid, bytes)
    if (looksLikeCommit(value)) {
      await checkCommit(cid, decodeCommit(cid, bytes))
    } else if (isTreeNode(value)) {
      decodeTreeNode(bytes, cid)
    } else if (looksLikeTraceStep(value)) {
      await verifyTraceStep(cid, decodeTraceStep(cid, bytes))
    } else if (looksLikeFrame(value)) {
      decodeFrame(cid, bytes)
    }
  } else {
    decodeAny(cid, bytes)
  }
  return linksOf(cid, bytes)
}

/** What the verifier uses. */
export type VerifyComponents = Pick<ServiceComponents, 'blocks'>

export function createVerifyService ({ blocks }: VerifyComponents, refs: RefService): VerifyService {
  /** A signed commit by its signature; a consensus commit by recomputing it from its parents. */
  const checkCommit = async (cid: CID, commit: Commit): Promise<void> => {
    if (commit.consensus != null) await checkConsensusCommit(new CommitGraph(blocks), cid, commit)
    else await verifyCommit(cid, commit)
  }

  const verifyAdded = async (root: CID, since: CID[], options: VerifyOptions): Promise<VerifyReport> => {
    const problems: Problem[] = []
    let count = 0
    try {
      for await (const block of missingBlocks(blocks, root, since, options)) {
        if (++count % PROGRESS_EVERY === 0) options.onProgress?.({ type: 'verify:progress', detail: { blocks: count } })
        try {
          for (const link of await checkBlock(block.cid, block.bytes, checkCommit)) {
            if (!await blocks.has(link)) problems.push({ cid: link.toString(), code: 'ERR_BLOCK_NOT_FOUND', message: `block ${link} (linked from ${block.cid}) is missing` })
          }
        } catch (err) {
          problems.push({ cid: block.cid.toString(), code: isFramehubError(err) ? err.code : 'ERR_INTERNAL', message: (err as Error).message })
        }
      }
    } catch (err) {
      // A block the walk itself could not read (missing or corrupt).
      problems.push({ cid: String((err as { cid?: string }).cid ?? root), code: isFramehubError(err) ? err.code : 'ERR_INTERNAL', message: (err as Error).message })
    }
    return { root, ok: problems.length === 0, blocks: count, problems }
  }

  return {
    async verify (spec, options) {
      const root = await refs.resolveCid(spec ?? 'HEAD', options)
      if (options?.since != null && options.since.length > 0) return await verifyAdded(root, options.since, options)
      const problems: Problem[] = []
      const seen = new Set<string>()
      const stack: Array<{ cid: CID, kind: Kind, from?: CID }> = [{ cid: root, kind: 'any' }]
      const report = (cid: CID, err: unknown): void => {
        problems.push({
          cid: cid.toString(),
          code: isFramehubError(err) ? err.code : 'ERR_INTERNAL',
          message: (err as Error).message
        })
      }
      const pace = pacer()
      while (stack.length > 0) {
        options?.signal?.throwIfAborted()
        await pace()
        const { cid, kind, from } = stack.pop() as { cid: CID, kind: Kind, from?: CID }
        const key = cidKey(cid)
        if (seen.has(key)) continue
        seen.add(key)
        if (seen.size % PROGRESS_EVERY === 0) options?.onProgress?.({ type: 'verify:progress', detail: { blocks: seen.size } })
        let bytes: Uint8Array
        try {
          bytes = await blocks.get(cid, options)
        } catch (err) {
          if (isFramehubError(err) && err.code === 'ERR_BLOCK_NOT_FOUND' && from != null) {
            problems.push({ cid: cid.toString(), code: err.code, message: `block ${cid} (linked from ${from}) is missing` })
          } else report(cid, err)
          continue
        }
        try {
          let k = kind
          if (k === 'any' && cid.code === 0x71) {
            const value = decodeCbor(cid, bytes)
            k = looksLikeCommit(value) ? 'commit' : isTreeNode(value) ? 'tree' : looksLikeTraceStep(value) ? 'step' : looksLikeFrame(value) ? 'frame' : 'any'
          }
          const push = (links: CID[], as: Kind): void => { for (const l of links) stack.push({ cid: l, kind: as, from: cid }) }
          if (k === 'commit') {
            const commit = decodeCommit(cid, bytes)
            await checkCommit(cid, commit)
            push(commit.parents, 'commit')
            push(commit.sessions ?? [], 'step')
            push((commit.forks ?? []).flatMap(f => [f.ours, f.theirs].filter((c): c is CID => c != null)), 'frame')
            stack.push({ cid: commit.tree, kind: 'tree', from: cid })
          } else if (k === 'tree') {
            // treeNodes checks every node's shape, child levels and first keys as it goes.
            for await (const { cid: nodeCid, node } of treeNodes(blocks, cid, options)) {
              seen.add(cidKey(nodeCid))
              if (node.level === 0) push(node.values, 'frame')
            }
          } else if (k === 'step') {
            const step = decodeTraceStep(cid, bytes)
            await verifyTraceStep(cid, step)
            push(step.parents, 'step')
            push([...step.inputs, ...step.outputs], 'any')
          } else if (k === 'frame') {
            push(frameLinks(decodeFrame(cid, bytes)), 'any')
          } else {
            decodeAny(cid, bytes)
            push(linksOf(cid, bytes), 'any')
          }
        } catch (err) {
          report(cid, err)
        }
      }
      return { root, ok: problems.length === 0, blocks: seen.size, problems }
    }
  }
}
