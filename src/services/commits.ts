import type { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import { decodeAny } from '../core/block.ts'
import { toJsonView } from '../core/json-view.ts'
import { createCommit, looksLikeCommit } from '../core/commit.ts'
import type { Commit, ForkRecord } from '../core/commit.ts'
import { NothingToCommitError, UsageError } from '../core/errors.ts'
import { looksLikeFrame } from '../core/frame.ts'
import { isAncestor, mergeBase, readCommit, walkHistory } from '../core/history.ts'
import type { CommitEntry } from '../core/history.ts'
import { mergeTrees } from '../core/merge.ts'
import { diffTrees, isTreeNode, mutateTree } from '../core/tree/index.ts'
import { looksLikeTraceStep } from '../core/trace-step.ts'
import { indexChanges } from '../storage/frame-index/update.ts'
import { encodeCbor, encodeCid, keys } from '../storage/state.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ServiceComponents } from './context.ts'
import type { Refs } from './refs.ts'

export interface CommitOptions extends CallOptions {
  message: string
  /** Commit even if the tree did not change. */
  allowEmpty?: boolean
}

export interface CommitResult {
  commit: CID
  tree: CID
  branch: string
  parents: CID[]
  sessions: CID[]
}

/** One difference between two frame sets. `before`/`after` are null where the frame is absent. */
export interface FrameChange {
  id: string
  before: CID | null
  after: CID | null
}

export interface DiffResult {
  added: FrameChange[]
  removed: FrameChange[]
  changed: FrameChange[]
}

export interface MergeResult {
  commit: CID
  /** How the branch moved: a new merge commit, a fast-forward, or nothing to do. */
  mode: 'merge' | 'fast-forward' | 'up-to-date'
  forks: ForkRecord[]
}

/** A fork kept by a merge: the tree holds `ours`, `theirs` lives on here. */
export interface ForkInfo extends ForkRecord {
  branch: string
  /** The merge commit that recorded it. */
  merge: CID
  /** The commit `theirs` came from. */
  from: CID
}

export type ShownBlock =
  | { type: 'commit', cid: CID, value: unknown }
  | { type: 'tree', cid: CID, value: unknown }
  | { type: 'frame', cid: CID, value: unknown }
  | { type: 'trace-step', cid: CID, value: unknown }
  | { type: 'block', cid: CID, value: unknown }

export interface CommitService {
  commit (options: CommitOptions): Promise<CommitResult>
  log (ref?: string, options?: CallOptions & { limit?: number }): AsyncIterable<CommitEntry>
  /** Decodes whatever a CID or ref names: commit, tree node, frame, trace step or other block. */
  show (spec: string, options?: CallOptions): Promise<ShownBlock>
  /** Frame-level differences from `a` to `b` (branches, commits or trees; default: HEAD → working tree). */
  diff (a?: string, b?: string, options?: CallOptions): Promise<DiffResult>
  /** Three-way merge of `ref` into the current branch. */
  merge (ref: string, options?: CallOptions & { message?: string }): Promise<MergeResult>
  forks (options?: { branch?: string }): AsyncIterable<ForkInfo>
}

/** What the commit service uses. */
export type CommitComponents = Pick<ServiceComponents, 'blocks' | 'signer' | 'state' | 'writeBatch' | 'exclusive' | 'events' | 'sessions'>

export function createCommitService (components: CommitComponents, refs: Refs): CommitService {
  const { blocks, signer, state, writeBatch, exclusive, events, sessions: sessionHeads } = components

  const headTree = async (head: CID | undefined): Promise<CID> => head == null ? EMPTY_TREE : (await readCommit(blocks, head)).tree

  const dirtySessions = async (): Promise<{ names: string[], heads: CID[] }> => {
    const dirty = await sessionHeads.dirty()
    return { names: dirty.map(d => d.session), heads: dirty.flatMap(d => d.heads) }
  }

  const diff = async (a?: string, b?: string, options?: CallOptions): Promise<DiffResult> => {
    const from = a == null ? await headTree(await refs.branchHead(await refs.currentBranch())) : (await refs.resolveTree(a, options)).tree
    const to = (await refs.resolveTree(b, options)).tree
    const out: DiffResult = { added: [], removed: [], changed: [] }
    for await (const d of diffTrees(blocks, from, to, options)) {
      const change = { id: d.key, before: d.before, after: d.after }
      if (d.before == null) out.added.push(change)
      else if (d.after == null) out.removed.push(change)
      else out.changed.push(change)
    }
    return out
  }

  return {
    commit: async (options) => await exclusive(async () => {
      const branch = await refs.currentBranch()
      const head = await refs.branchHead(branch)
      const tree = await refs.workingTree(branch)
      const sessions = await dirtySessions()
      if (options.allowEmpty !== true && tree.equals(await headTree(head)) && sessions.heads.length === 0) {
        throw new NothingToCommitError(`nothing to commit on branch ${branch} (stage frames with "frame put" or pass --allow-empty)`)
      }
      const parents = head == null ? [] : [head]
      const block = await createCommit(signer, { tree, parents, message: options.message, sessions: sessions.heads })
      const batch = writeBatch()
        .putBlock(block.cid, block.bytes)
        .putState(keys.ref(branch), encodeCid(block.cid))
        .delState(keys.work(branch))
      const named = sessionHeads.clearDirty(batch, sessions.names)
      await indexChanges(batch, branch, await headTree(head), tree, options)
      await batch.write()
      named()
      events.publish('commit', { commit: block.cid.toString(), tree: tree.toString(), branch, parents: parents.map(String) })
      events.publish('ref:move', { ref: branch, from: head?.toString() ?? null, to: block.cid.toString(), reason: 'commit' })
      return { commit: block.cid, tree, branch, parents, sessions: sessions.heads }
    }),

    async * log (ref, options) {
      const head = await refs.resolveCommit(ref ?? 'HEAD', options)
      yield * walkHistory(blocks, [head], options)
    },

    show: async (spec, options) => {
      const cid = await refs.resolveCid(spec, options)
      const bytes = await blocks.get(cid, options)
      const value = decodeAny(cid, bytes)
      const view = toJsonView(value)
      if (cid.code === dagCbor.code) {
        if (looksLikeCommit(value)) return { type: 'commit', cid, value: view }
        if (isTreeNode(value)) return { type: 'tree', cid, value: view }
        if (looksLikeTraceStep(value)) return { type: 'trace-step', cid, value: view }
        if (looksLikeFrame(value)) return { type: 'frame', cid, value: view }
      }
      return { type: 'block', cid, value: view }
    },

    diff,

    merge: async (ref, options) => await exclusive(async () => {
      const branch = await refs.currentBranch()
      const ours = await refs.branchHead(branch)
      const theirs = await refs.resolveCommit(ref, options)
      if (await state.cid(keys.work(branch)) != null) {
        throw new UsageError(`branch ${branch} has staged changes: commit them before merging`)
      }
      if (ours != null && await isAncestor(blocks, theirs, ours, options)) return { commit: ours, mode: 'up-to-date', forks: [] }
      if (ours == null || await isAncestor(blocks, ours, theirs, options)) {
        const ffBatch = writeBatch().putState(keys.ref(branch), encodeCid(theirs))
        await indexChanges(ffBatch, branch, await headTree(ours), await headTree(theirs), options)
        await ffBatch.write()
        events.publish('ref:move', { ref: branch, from: ours?.toString() ?? null, to: theirs.toString(), reason: 'fast-forward' })
        return { commit: theirs, mode: 'fast-forward', forks: [] }
      }
      const base = await mergeBase(blocks, ours, theirs, options)
      const [baseTree, oursTree, theirsTree] = [await headTree(base), await headTree(ours), await headTree(theirs)]
      const merged = await mergeTrees(blocks, baseTree, oursTree, theirsTree, options)
      const tree = await mutateTree(blocks, oursTree, merged.changes, options)
      const block = await createCommit(signer, {
        tree: tree.root,
        parents: [ours, theirs],
        message: options?.message ?? `merge ${ref} into ${branch}`,
        forks: merged.forks
      })
      const batch = writeBatch()
      for (const b of tree.blocks) batch.putBlock(b.cid, b.bytes)
      batch.putBlock(block.cid, block.bytes).putState(keys.ref(branch), encodeCid(block.cid))
      for (const f of merged.forks) {
        batch.putState(keys.fork(branch, f.id, block.cid.toString()), encodeCbor({ ...f, branch, merge: block.cid, from: theirs }))
      }
      await indexChanges(batch, branch, oursTree, tree.root, options)
      await batch.write()
      events.publish('commit', { commit: block.cid.toString(), tree: tree.root.toString(), branch, parents: [ours.toString(), theirs.toString()] })
      events.publish('ref:move', { ref: branch, from: ours.toString(), to: block.cid.toString(), reason: 'merge' })
      return { commit: block.cid, mode: 'merge', forks: merged.forks }
    }),

    async * forks (options) {
      const prefix = keys.forkPrefix + (options?.branch != null ? `${options.branch} ` : '')
      for await (const [, value] of state.scan(prefix)) {
        yield dagCbor.decode(value) as ForkInfo
      }
    }
  }
}

export type { Commit }
