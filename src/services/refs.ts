import type { CID } from 'multiformats/cid'
import { cidString, DAG_CBOR } from '../core/cid.ts'
import { RefExistsError, RefInvalidError, RefNotFoundError, UsageError } from '../core/errors.ts'
import { checkBranchName, checkBranchSyntax, HEADS_PREFIX, parseRefSpec, unknownRef } from '../core/ref-spec.ts'
import { readCommit } from '../core/history.ts'
import { looksLikeCommit } from '../core/commit.ts'
import { decodeCbor } from '../core/block.ts'
import { isTreeNode } from '../core/tree/index.ts'
import { clearIndexData, dropIndex, indexChanges } from '../storage/frame-index/update.ts'
import { encodeCid, encodeText, keys } from '../storage/state.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ServiceComponents } from './context.ts'

/** A branch and the commit it points to. */
export interface BranchInfo {
  name: string
  commit: CID
  current: boolean
}

/** What a ref spec names: a commit (with its tree), or a bare tree. */
export interface ResolvedTree {
  tree: CID
  commit?: CID
}

/** Branches, HEAD, the working tree of each branch, and resolution of `REF`s given by users. */
export interface RefService {
  currentBranch (): Promise<string>
  /** The staged frame set of a branch (defaults to the current one). */
  workingTree (branch?: string): Promise<CID>
  /**
   * The commit a REF names: `HEAD`, `refs/heads/NAME`, a commit CID (in any multibase), or a
   * branch, tried in that order (a CID always wins over a branch of the same name), each with an
   * optional `~N` (N-th first parent). A REF that names nothing is `ERR_REF_NOT_FOUND`, or
   * `ERR_CID_INVALID` when it looks like a CID (see core/ref-spec.ts).
   */
  resolveCommit (spec: string, options?: CallOptions): Promise<CID>
  /** What a user's CID-or-REF names: the CID of any block when it spells one (without `~N`), else resolveCommit. */
  resolveCid (spec: string, options?: CallOptions): Promise<CID>
  /** Like resolveCommit, and also accepts a tree CID; no spec = the current working tree. */
  resolveTree (spec?: string, options?: CallOptions): Promise<ResolvedTree>
  listBranches (): Promise<BranchInfo[]>
  createBranch (name: string, start?: string): Promise<BranchInfo>
  deleteBranch (name: string): Promise<void>
  checkout (name: string, options?: { create?: boolean }): Promise<{ branch: string, commit?: CID }>
}

/**
 * The refs as the node's own code reads them: the service, and two reads that are no part of the
 * public interface (a client of a daemon has no use for them, and the API does not offer them).
 */
export interface Refs extends RefService {
  /** The commit a branch points to (undefined: no such branch, or none yet). */
  branchHead (branch: string): Promise<CID | undefined>
  /** The tree a commit names (remembered: a commit's CID always names the same tree). */
  treeOfCommit (commit: CID, options?: CallOptions): Promise<CID>
}

// The one validator of branch names and the one reader of REFs live in core (peers' chain entries
// are checked with the same rules); services and routes import them from here.
export { checkBranchName, checkBranchSyntax, branchNameIsCid, HEADS_PREFIX } from '../core/ref-spec.ts'

/** Where a REF starts, before its `~N`: a commit, or (`cid`) the CID the user spelled. */
interface Start {
  at: CID
  back: number
  cid: boolean
}

/** Answers read from blocks that are remembered, per kind of answer (oldest out first). */
const REMEMBERED = 1024

/** A memo of facts about immutable blocks, by CID, holding the most recent `REMEMBERED`. */
function remembered<T> (): (cid: CID, read: () => Promise<T>) => Promise<T> {
  const known = new Map<string, T>()
  return async (cid, read) => {
    const key = cidString(cid)
    if (known.has(key)) return known.get(key) as T
    const value = await read()
    if (known.size >= REMEMBERED) known.delete(known.keys().next().value as string)
    known.set(key, value)
    return value
  }
}

/** What the ref service uses. */
export type RefComponents = Pick<ServiceComponents, 'blocks' | 'db' | 'defaultBranch' | 'state' | 'writeBatch' | 'exclusive' | 'events'>

export function createRefService ({ blocks, db, defaultBranch, state, writeBatch, exclusive, events }: RefComponents): Refs {
  const currentBranch = async (): Promise<string> => (await state.text(keys.head)) ?? defaultBranch
  const branchHead = async (branch: string): Promise<CID | undefined> => await state.cid(keys.ref(branch))

  // What a block is never changes with time, so answers read from blocks are kept for the most
  // recent CIDs: reading a commit for its tree decodes and schema-checks the whole commit (about
  // 0.15 ms), telling a tree CID from a commit CID decodes the tree's root node, and every list
  // query asks one or the other.
  const treeOf = remembered<CID>()
  const treeOfCommit = async (cid: CID, options?: CallOptions): Promise<CID> =>
    await treeOf(cid, async () => (await readCommit(blocks, cid, options)).tree)
  const isTree = remembered<boolean>()
  const isTreeCid = async (cid: CID, options?: CallOptions): Promise<boolean> =>
    await isTree(cid, async () => isTreeNode(decodeCbor(cid, await blocks.get(cid, options))))

  const workingTree = async (branch?: string): Promise<CID> => {
    const name = branch ?? await currentBranch()
    const work = await state.cid(keys.work(name))
    if (work != null) return work
    const head = await branchHead(name)
    return head == null ? EMPTY_TREE : await treeOfCommit(head)
  }

  /**
   * Where a REF starts, before its `~N`: HEAD's or a branch's commit, or the CID it spells (any
   * block, `cid: true`). The one resolver: every command and route reads REFs through it.
   */
  const start = async (spec: string): Promise<Start> => {
    const ref = parseRefSpec(spec)
    if (ref.kind === 'cid') return { at: ref.cid, back: ref.back, cid: true }
    const branch = ref.kind === 'head' ? await currentBranch() : ref.name
    const at = await branchHead(branch)
    if (at != null) return { at, back: ref.back, cid: false }
    if (ref.kind === 'head') throw new RefNotFoundError(`branch "${branch}" has no commits yet`, { ref: spec })
    // A branch literally named refs/heads/… (made before refs/ was kept for this form) is still found.
    const literal = ref.explicit ? await branchHead(HEADS_PREFIX + ref.name) : undefined
    if (literal != null) return { at: literal, back: ref.back, cid: false }
    throw unknownRef(spec, ref.name, ref.explicit)
  }

  const isCommitCid = async (cid: CID, options?: CallOptions): Promise<boolean> =>
    cid.code === DAG_CBOR && looksLikeCommit(decodeCbor(cid, await blocks.get(cid, options)))

  const back = async (spec: string, from: CID, n: number, options?: CallOptions): Promise<CID> => {
    let at = from
    while (n-- > 0) {
      const parent: CID | undefined = (await readCommit(blocks, at, options)).parents[0]
      if (parent == null) throw new RefNotFoundError(`${spec.trim()} goes back past the first commit`, { ref: spec })
      at = parent
    }
    return at
  }

  const commitOf = async (spec: string, s: Start, options?: CallOptions): Promise<CID> => {
    // A branch always names a commit; a CID given by the user must be checked to be one.
    if (s.cid && !await isCommitCid(s.at, options)) throw new RefInvalidError(`${s.at} is not a commit`, { ref: spec })
    return await back(spec, s.at, s.back, options)
  }

  const resolveCommit = async (spec: string, options?: CallOptions): Promise<CID> => await commitOf(spec, await start(spec), options)

  const resolveCid = async (spec: string, options?: CallOptions): Promise<CID> => {
    const s = await start(spec)
    return s.cid && s.back === 0 ? s.at : await commitOf(spec, s, options)
  }

  const resolveTree = async (spec?: string, options?: CallOptions): Promise<ResolvedTree> => {
    if (spec == null) return { tree: await workingTree() }
    const s = await start(spec)
    if (s.cid && s.back === 0 && s.at.code === DAG_CBOR && await isTreeCid(s.at, options)) return { tree: s.at }
    const commit = await commitOf(spec, s, options)
    return { tree: await treeOfCommit(commit, options), commit }
  }

  const listBranches = async (): Promise<BranchInfo[]> => {
    const current = await currentBranch()
    const out: BranchInfo[] = []
    for await (const [name] of state.scan(keys.refPrefix)) {
      const commit = await branchHead(name)
      if (commit != null) out.push({ name, commit, current: name === current })
    }
    return out
  }

  return {
    currentBranch,
    branchHead,
    workingTree,
    resolveCommit,
    resolveCid,
    treeOfCommit,
    resolveTree,
    listBranches,
    createBranch: async (name, start) => await exclusive(async () => {
      checkBranchName(name)
      if (await branchHead(name) != null) throw new RefExistsError(`branch "${name}" already exists`)
      const commit = await resolveCommit(start ?? 'HEAD')
      const batch = writeBatch().putState(keys.ref(name), encodeCid(commit))
      await indexChanges(batch, name, EMPTY_TREE, await treeOfCommit(commit))
      await batch.write()
      events.publish('ref:move', { ref: name, from: null, to: commit.toString(), reason: 'branch-create' })
      return { name, commit, current: false }
    }),
    deleteBranch: async (name) => await exclusive(async () => {
      const before = await branchHead(name)
      if (before == null) throw new RefNotFoundError(`no branch "${name}"`)
      if (name === await currentBranch()) throw new UsageError(`cannot delete the checked-out branch "${name}"`)
      const batch = writeBatch().delState(keys.ref(name)).delState(keys.work(name))
      dropIndex(batch, name)
      await batch.write()
      // The index data goes after the ref: an interruption leaves keys without meta, never trusted.
      await clearIndexData(db, name)
      events.publish('ref:move', { ref: name, from: before.toString(), to: null, reason: 'branch-delete' })
    }),
    checkout: async (name, options) => await exclusive(async () => {
      checkBranchSyntax(name)
      const batch = writeBatch()
      let commit = await branchHead(name)
      // An existing branch is switched to whatever its name (one made before names that read as
      // CIDs were refused stays reachable); a new one must have a name a branch may take.
      if (options?.create === true || (commit == null && await state.cid(keys.work(name)) == null)) checkBranchName(name)
      if (options?.create === true) {
        if (commit != null) throw new RefExistsError(`branch "${name}" already exists`)
        commit = await branchHead(await currentBranch())
        if (commit != null) {
          batch.putState(keys.ref(name), encodeCid(commit))
          await indexChanges(batch, name, EMPTY_TREE, await treeOfCommit(commit))
        }
      } else if (commit == null && await state.cid(keys.work(name)) == null) {
        throw new RefNotFoundError(`no branch "${name}" (use --create to make it)`)
      }
      await batch.putState(keys.head, encodeText(name)).write()
      events.publish('checkout', { branch: name })
      return commit == null ? { branch: name } : { branch: name, commit }
    })
  }
}
