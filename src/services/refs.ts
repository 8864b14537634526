import type { CID } from 'multiformats/cid'
import { cidString, tryParseCid } from '../core/codec.ts'
import { RefExistsError, RefInvalidError, RefNotFoundError, UsageError } from '../core/errors.ts'
import { readCommit } from '../core/history.ts'
import { looksLikeCommit } from '../core/commit.ts'
import { decodeCbor } from '../core/codec.ts'
import { isTreeNode } from '../core/tree/index.ts'
import { clearIndexData, dropIndex, indexChanges } from '../storage/frame-index.ts'
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
  branchHead (branch: string): Promise<CID | undefined>
  /** The staged frame set of a branch (defaults to the current one). */
  workingTree (branch?: string): Promise<CID>
  /** `HEAD`, a branch, or a commit CID, each with an optional `~N` (N-th first parent). */
  resolveCommit (spec: string, options?: CallOptions): Promise<CID>
  /** What a user's CID-or-ref names: a CID of any block (unless a branch has that name), else resolveCommit. */
  resolveCid (spec: string, options?: CallOptions): Promise<CID>
  /** The tree a commit names (remembered: a commit's CID always names the same tree). */
  treeOfCommit (commit: CID, options?: CallOptions): Promise<CID>
  /** Like resolveCommit, and also accepts a tree CID; no spec = the current working tree. */
  resolveTree (spec?: string, options?: CallOptions): Promise<ResolvedTree>
  listBranches (): Promise<BranchInfo[]>
  createBranch (name: string, start?: string): Promise<BranchInfo>
  deleteBranch (name: string): Promise<void>
  checkout (name: string, options?: { create?: boolean }): Promise<{ branch: string, commit?: CID }>
}

const BRANCH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/

/** Throws `ERR_REF_INVALID` unless `name` is a usable branch name. */
export function checkBranchName (name: string): void {
  if (!BRANCH.test(name) || name === 'HEAD' || name.includes('..') || name.endsWith('.') || name.length > 200) {
    throw new RefInvalidError(`"${name}" is not a valid branch name (letters, digits, . _ - and / between parts)`)
  }
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

export function createRefService ({ repo, exclusive, events }: ServiceComponents): RefService {
  const { state } = repo

  const currentBranch = async (): Promise<string> => (await state.text(keys.head)) ?? repo.config.defaultBranch
  const branchHead = async (branch: string): Promise<CID | undefined> => await state.cid(keys.ref(branch))

  // What a block is never changes with time, so answers read from blocks are kept for the most
  // recent CIDs: reading a commit for its tree decodes and schema-checks the whole commit (about
  // 0.15 ms), telling a tree CID from a commit CID decodes the tree's root node, and every list
  // query asks one or the other.
  const treeOf = remembered<CID>()
  const treeOfCommit = async (cid: CID, options?: CallOptions): Promise<CID> =>
    await treeOf(cid, async () => (await readCommit(repo.blocks, cid, options)).tree)
  const isTree = remembered<boolean>()
  const isTreeCid = async (cid: CID, options?: CallOptions): Promise<boolean> =>
    await isTree(cid, async () => isTreeNode(decodeCbor(cid, await repo.blocks.get(cid, options))))

  const workingTree = async (branch?: string): Promise<CID> => {
    const name = branch ?? await currentBranch()
    const work = await state.cid(keys.work(name))
    if (work != null) return work
    const head = await branchHead(name)
    return head == null ? EMPTY_TREE : await treeOfCommit(head)
  }

  const resolveCommit = async (spec: string, options?: CallOptions): Promise<CID> => {
    const m = /^(.*?)(?:~(\d+))?$/.exec(spec.trim())
    const base = m?.[1] ?? spec
    let back = Number(m?.[2] ?? 0)
    let cid: CID | undefined
    if (base === 'HEAD' || base === '') {
      const branch = await currentBranch()
      cid = await branchHead(branch)
      if (cid == null) throw new RefNotFoundError(`branch "${branch}" has no commits yet`, { ref: spec })
    } else {
      cid = await branchHead(base)
      if (cid == null) {
        // A branch always names a commit; a CID given by the user must be checked to be one.
        cid = tryParseCid(base)
        if (cid == null) throw new RefNotFoundError(`unknown ref "${base}": not a branch and not a CID`, { ref: spec })
        if (!looksLikeCommit(decodeCbor(cid, await repo.blocks.get(cid, options)))) {
          throw new RefInvalidError(`${base} is not a commit`, { ref: spec })
        }
      }
    }
    let at: CID = cid
    while (back-- > 0) {
      const parent: CID | undefined = (await readCommit(repo.blocks, at, options)).parents[0]
      if (parent == null) throw new RefNotFoundError(`${spec} goes back past the first commit`, { ref: spec })
      at = parent
    }
    return at
  }

  const resolveCid = async (spec: string, options?: CallOptions): Promise<CID> => {
    const cid = tryParseCid(spec)
    if (cid != null && await branchHead(spec) == null) return cid
    return await resolveCommit(spec, options)
  }

  const resolveTree = async (spec?: string, options?: CallOptions): Promise<ResolvedTree> => {
    if (spec == null) return { tree: await workingTree() }
    const asCid = tryParseCid(spec)
    if (asCid != null && await branchHead(spec) == null && await isTreeCid(asCid, options)) return { tree: asCid }
    const commit = await resolveCommit(spec, options)
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
      const batch = repo.batch().putState(keys.ref(name), encodeCid(commit))
      await indexChanges(batch, name, EMPTY_TREE, await treeOfCommit(commit))
      await batch.write()
      events.publish('ref:move', { ref: name, from: null, to: commit.toString(), reason: 'branch-create' })
      return { name, commit, current: false }
    }),
    deleteBranch: async (name) => await exclusive(async () => {
      const before = await branchHead(name)
      if (before == null) throw new RefNotFoundError(`no branch "${name}"`)
      if (name === await currentBranch()) throw new UsageError(`cannot delete the checked-out branch "${name}"`)
      const batch = repo.batch().delState(keys.ref(name)).delState(keys.work(name))
      dropIndex(batch, name)
      await batch.write()
      // The index data goes after the ref: an interruption leaves keys without meta, never trusted.
      await clearIndexData(repo.db, name)
      events.publish('ref:move', { ref: name, from: before.toString(), to: null, reason: 'branch-delete' })
    }),
    checkout: async (name, options) => await exclusive(async () => {
      checkBranchName(name)
      const batch = repo.batch()
      let commit = await branchHead(name)
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
