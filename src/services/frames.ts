import { CID } from 'multiformats/cid'
import { cidKey, tryParseCid } from '../core/cid.ts'
import { decodeCbor } from '../core/block.ts'
import { asJsonView } from '../core/json-view.ts'
import type { Block } from '../core/block.ts'
import { ConflictError, FrameNotFoundError, LinkUnresolvedError, RefNotFoundError } from '../core/errors.ts'
import { decodeFrame, encodeFrame, findFrame, frameFromJson, frameId, frameLinks, withAttachments } from '../core/frame.ts'
import { frameVersions } from '../core/frame-history.ts'
import { parseRefSpec } from '../core/ref-spec.ts'
import { decodeTraceStep } from '../core/trace-step.ts'
import type { TraceStep } from '../core/trace-step.ts'
import type { Attachment, Frame } from '../core/frame.ts'
import { buildTree, entries, getEntry, mutateTree } from '../core/tree/index.ts'
import type { TreeChange, TreeResult } from '../core/tree/index.ts'
import { encodeCid, keys } from '../storage/state.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'
import { importFrames } from './frame-import.ts'
import type { ImportInput, ImportProgress, ImportResult, ImportSizeHint } from './frame-import.ts'
import { storeFile } from './attachments.ts'
import type { AttachmentInput } from './attachments.ts'
import { checkBranchSyntax } from './refs.ts'
import type { Refs } from './refs.ts'

/** A frame as the services return it. */
export interface FrameRecord {
  id: string
  cid: CID
  frame: Frame
  /**
   * Read by id on a `shared/*` branch (its working tree or its head) on which consensus has
   * decided: whether the canonical head holds this version. False: a shadow frame, visible here and
   * unconfirmed by the network.
   */
  confirmed?: boolean
}

export interface PutFrameOptions extends CallOptions {
  /** Branch whose working tree gets the frame; default: the current branch. */
  branch?: string
  /** Where the frame came from, for error messages. */
  source?: string
  /**
   * Files to store with UnixFS (as `attach` does) before the frame, appended in this order to
   * its `attachments` (a value there that is not an array is replaced). Stored even if the frame
   * is then refused: unreferenced, they go at the next gc.
   */
  attach?: AttachmentInput[]
  /**
   * The version the writer read: the write happens only if the frame's current version on the
   * branch's working tree is this CID, or with `null` only if the id has no frame there
   * (create-only). Otherwise `ERR_CONFLICT` and nothing is staged. Checked and staged under the
   * write lock, so two writers that read the same version cannot both win.
   */
  ifMatch?: CID | null
}

export type { ImportInput, ImportProgress, ImportResult, ImportSizeHint, NdjsonBytes, NdjsonReader } from './frame-import.ts'

export interface ListFramesOptions extends CallOptions {
  /** Branch, commit or tree; default: the current working tree. */
  ref?: string
  kind?: string
  tag?: string
  /** Only ids starting with this. */
  prefix?: string
  /** Only ids after this one (cursor). */
  after?: string
  /** Only frames with every word of this text among the words of their title and body (case-insensitive). */
  q?: string
  limit?: number
}

export type { AttachmentInput } from './attachments.ts'

export interface FrameHistoryOptions extends CallOptions {
  /**
   * A branch (default: the current one), whose history is read from its head and whose working
   * tree gives `staged`; or any other REF (a commit CID, `HEAD~2`, ...), read from that commit.
   */
  ref?: string
  /** At most this many versions (newest first). */
  limit?: number
  /** Most trace steps read looking for the steps behind the versions (default HISTORY_STEP_BUDGET). */
  stepBudget?: number
}

/** A trace step that names a version of a frame among its outputs. */
export interface FrameStep {
  cid: CID
  step: TraceStep
}

/** One version of a frame: the commit that wrote it, and the reasoning that produced it. */
export interface FrameVersionRecord {
  commit: CID
  /** Peer id of the node that signed the commit. */
  author: string
  /** Commit time, milliseconds since the Unix epoch. */
  time: number
  message: string
  /** The frame's CID; null: the commit removed the id. */
  cid: CID | null
  /** Trace steps whose `outputs` name this CID, oldest first (see `FrameService.history`). */
  steps: FrameStep[]
}

export interface FrameHistory {
  id: string
  /** The branch read, or null when the REF named a commit. */
  branch: string | null
  /** The commit the history starts from; null on a branch without commits. */
  head: CID | null
  /** The branch's working tree, when it holds another version of the id than its head (staged, not committed). */
  staged: { cid: CID | null, steps: FrameStep[] } | null
  /** Newest first. */
  versions: FrameVersionRecord[]
  /** False when the search for steps stopped at its bound (`stepBudget`, default HISTORY_STEP_BUDGET steps read). */
  stepsComplete: boolean
}

/**
 * Most trace steps one history reads looking for the steps that name its versions. The search
 * starts at the session heads recorded by the commits walked (newest first) and goes back
 * breadth-first through step parents, each step once.
 */
export const HISTORY_STEP_BUDGET = 10_000

/** Writing, staging and reading frames. */
export interface FrameService {
  /** Validates, stores and stages one frame (JSON view); returns its CID. */
  put (json: unknown, options?: PutFrameOptions): Promise<FrameRecord>
  /**
   * Stores and stages many frames (NDJSON: lines, or bytes as `{ ndjson }`, which big imports
   * split on their worker threads) in batches; all or nothing.
   */
  import (input: ImportInput, options?: PutFrameOptions & ProgressOptions<ImportProgress> & ImportSizeHint): Promise<ImportResult>
  /** Stores a file with UnixFS and describes it for a frame's `attachments`. */
  attach (input: AttachmentInput, options?: CallOptions): Promise<Attachment>
  /**
   * Reads a frame by CID, or by id in `ref` (default: the current working tree). With `byId`,
   * always by id, also when the id happens to parse as a CID.
   */
  get (cidOrId: string, options?: CallOptions & { ref?: string, byId?: boolean }): Promise<FrameRecord>
  list (options?: ListFramesOptions): AsyncIterable<FrameRecord>
  /** Stages the removal of a frame id. */
  remove (id: string, options?: PutFrameOptions): Promise<{ id: string, tree: CID }>
  /**
   * Every version of frame `id` on a branch (or under a commit), newest first: the commit, its
   * author, time and message, the frame's CID (null where removed), and the trace steps whose
   * `outputs` name that CID. Read from the Merkle trees one id lookup per commit (O(log n) nodes
   * each), never a whole tree. Steps are searched from the session heads that the commits walked
   * recorded (`sessions`) and, for `staged`, from the sessions not yet committed, back through
   * their parents, at most HISTORY_STEP_BUDGET steps. `ERR_FRAME_NOT_FOUND` if the id has no
   * version there at all.
   */
  history (id: string, options?: FrameHistoryOptions): Promise<FrameHistory>
  /**
   * Stages version `to` of frame `id` (any stored frame block whose id is `id`, such as a CID
   * that `history` lists) as the branch's working tree entry. Another CID (a frame of another id,
   * a block that is not a frame, one not in the repository) is `ERR_FRAME_NOT_FOUND`.
   */
  revert (id: string, to: CID, options?: PutFrameOptions): Promise<FrameRecord>
}

/**
 * What the frame service asks of the frame index (services/frame-index.ts): filtered lists.
 * Declared here, so that the index depends on this module's types and not the other way round.
 */
export interface FilteredFrameLists {
  list (options?: ListFramesOptions): AsyncIterable<FrameRecord>
}

/** What the frame service uses. */
export type FrameComponents = Pick<ServiceComponents, 'blocks' | 'helia' | 'writeBatch' | 'exclusive' | 'events' | 'sessions'>

/**
 * Whether the canonical head of a shared branch holds a frame version (undefined: no decision on
 * the branch yet). The consensus service answers; the frame service asks it on reads by id.
 */
export type Confirmation = (branch: string, id: string, cid: CID, options?: CallOptions) => Promise<boolean | undefined>

export function createFrameService (components: FrameComponents, refs: Refs, index: FilteredFrameLists, confirmation?: Confirmation): FrameService {
  const { blocks, writeBatch, exclusive, events, sessions } = components

  const checkResolvable = async (links: Iterable<CID>, known: Set<string> | undefined, where: string): Promise<void> => {
    for (const link of links) {
      if (known?.has(cidKey(link)) === true) continue
      if (!await blocks.has(link)) throw new LinkUnresolvedError(`${where}links to ${link}, which is not in this repository`, { cid: link.toString() })
    }
  }

  /** The branch a write stages on: the current one, or another that exists. */
  const targetBranch = async (branch?: string): Promise<string> => {
    const current = await refs.currentBranch()
    if (branch == null || branch === current) return current
    checkBranchSyntax(branch)
    if (await refs.branchHead(branch) == null) throw new RefNotFoundError(`no branch "${branch}" (create it with "framehub branch ${branch}")`, { ref: branch })
    return branch
  }

  /** Applies changes to a branch's working tree and writes it with `extra` blocks, atomically. */
  const stage = async (branch: string, changes: TreeChange[], extra: Block[], options?: CallOptions): Promise<CID> => {
    const base = await refs.workingTree(branch)
    const result = base.equals(EMPTY_TREE) && changes.every(c => c.value != null)
      ? buildTree(changes.map(c => ({ key: c.key, value: c.value as CID })))
      : await mutateTree(blocks, base, changes, options)
    return await stageTree(branch, result, extra, options)
  }

  /** Writes `result`'s blocks with `extra` ones and makes it `branch`'s working tree, atomically. */
  const stageTree = async (branch: string, result: TreeResult, extra: Block[] = [], options?: CallOptions): Promise<CID> => {
    const batch = writeBatch()
    for (const b of extra) batch.putBlock(b.cid, b.bytes)
    for (const b of result.blocks) batch.putBlock(b.cid, b.bytes)
    const head = await refs.branchHead(branch)
    const headTree = head == null ? EMPTY_TREE : await refs.treeOfCommit(head, options)
    if (result.root.equals(headTree)) batch.delState(keys.work(branch))
    else batch.putState(keys.work(branch), encodeCid(result.root))
    await batch.write()
    return result.root
  }

  /**
   * Throws `ERR_CONFLICT` unless `id`'s version in `tree` is `expected` (`null`: no frame).
   * Called under the write lock, before the change is staged on that same tree.
   */
  const checkVersion = async (branch: string, tree: CID, id: string, expected: CID | null | undefined, options?: CallOptions): Promise<void> => {
    if (expected === undefined) return
    const current = await getEntry(blocks, tree, id, options) ?? null
    if (current == null ? expected == null : expected?.equals(current) === true) return
    const details = { id, branch, expected: expected?.toString() ?? null, current: current?.toString() ?? null }
    if (current == null) throw new ConflictError(`frame "${id}" has no version on branch ${branch}, not ${String(expected)} (it was removed or never written)`, details)
    if (expected == null) throw new ConflictError(`frame "${id}" already exists on branch ${branch} (version ${current})`, details)
    throw new ConflictError(`frame "${id}" on branch ${branch} is at version ${current}, not ${expected}: it changed since it was read`, details)
  }

  const readFrame = async (cid: CID, options?: CallOptions): Promise<FrameRecord> => {
    const frame = decodeFrame(cid, await blocks.get(cid, options))
    return { id: frame.id, cid, frame }
  }

  /** The branch a history REF names (with its head), or the commit it names. */
  const historyStart = async (ref: string | undefined, options?: CallOptions): Promise<{ branch: string | null, head: CID | null }> => {
    const spec = ref == null ? undefined : parseRefSpec(ref)
    if (spec == null || (spec.kind === 'head' && spec.back === 0)) {
      const branch = await refs.currentBranch()
      return { branch, head: await refs.branchHead(branch) ?? null }
    }
    if (spec.kind === 'branch' && spec.back === 0) {
      const head = await refs.branchHead(spec.name)
      if (head != null) return { branch: spec.name, head }
    }
    return { branch: null, head: await refs.resolveCommit(ref as string, options) }
  }

  /**
   * The steps, reachable from `heads` through their parents, whose outputs name one of `wanted`:
   * breadth-first from the heads in the order given, each step once, at most `budget` read.
   */
  const stepsNaming = async (heads: CID[], wanted: Set<string>, budget: number, options?: CallOptions): Promise<{ found: Map<string, FrameStep[]>, complete: boolean }> => {
    const found = new Map<string, FrameStep[]>()
    const seen = new Set<string>()
    const queue: CID[] = []
    const enqueue = (cid: CID): void => {
      const key = cidKey(cid)
      if (seen.has(key)) return
      seen.add(key)
      queue.push(cid)
    }
    for (const h of heads) enqueue(h)
    let read = 0
    for (let i = 0; i < queue.length; i++) {
      if (read >= budget) return { found, complete: false }
      options?.signal?.throwIfAborted()
      const cid = queue[i] as CID
      let bytes: Uint8Array
      try {
        bytes = await blocks.get(cid, options)
      } catch (err) {
        // A step whose block is not here (a peer's, not synced) ends that path, it is not an error.
        if ((err as { code?: string }).code === 'ERR_BLOCK_NOT_FOUND') continue
        throw err
      }
      read++
      // Only the links are read on the way; a step that names a version is decoded and checked whole.
      const decoded = decodeCbor(cid, bytes)
      if (decoded === null || typeof decoded !== 'object') continue
      const value = decoded as { outputs?: unknown, parents?: unknown }
      const outputs = Array.isArray(value.outputs) ? value.outputs : []
      let step: TraceStep | undefined
      for (const out of outputs) {
        const link = CID.asCID(out)
        const key = link == null ? undefined : cidKey(link)
        if (key == null || !wanted.has(key) || found.get(key)?.some(f => f.cid.equals(cid)) === true) continue
        step ??= decodeTraceStep(cid, bytes)
        const list = found.get(key)
        if (list == null) found.set(key, [{ cid, step }])
        else list.push({ cid, step })
      }
      for (const p of Array.isArray(value.parents) ? value.parents : []) {
        const parent = CID.asCID(p)
        if (parent != null) enqueue(parent)
      }
      // The queue's start is dropped now and then, so a long search does not hold every CID twice.
      if (i >= 4096) { queue.splice(0, i + 1); i = -1 }
    }
    return { found, complete: true }
  }

  return {
    put: async (input, options) => {
      // Stored outside the write lock, as `attach` is: the frame that names them is staged under it.
      const attached: Attachment[] = []
      for (const file of options?.attach ?? []) attached.push(await storeFile(components, file, options))
      const json = withAttachments(input, attached)
      return await exclusive(async () => {
        const where = options?.source != null ? `${options.source}: ` : ''
        const frame = frameFromJson(asJsonView(json), { source: options?.source })
        await checkResolvable(frameLinks(frame), undefined, `${where}frame ${frame.id} `)
        const block = encodeFrame(frame, { source: options?.source })
        const branch = await targetBranch(options?.branch)
        await checkVersion(branch, await refs.workingTree(branch), frame.id, options?.ifMatch, options)
        await stage(branch, [{ key: frame.id, value: block.cid }], [block], options)
        events.publish('frame:put', { id: frame.id, cid: block.cid.toString(), branch })
        return { id: frame.id, cid: block.cid, frame }
      })
    },

    import: async (input, options) => await exclusive(async () => {
      let branch = ''
      const context = {
        writeBatch,
        blocks,
        targetBranch,
        checkResolvable,
        workingTree: async (b: string) => await refs.workingTree(b),
        stageTree: async (b: string, tree: TreeResult) => { branch = b; return await stageTree(b, tree, [], options) }
      }
      const result = await importFrames(context, input, options)
      events.publish('frame:import', { frames: result.frames, branch, tree: result.tree.toString() })
      return result
    }),

    attach: async (input, options) => await storeFile(components, input, options),

    get: async (cidOrId, options) => {
      const asCid = options?.byId === true ? undefined : tryParseCid(cidOrId)
      if (asCid != null) return await readFrame(asCid, options)
      const { tree } = await refs.resolveTree(options?.ref, options)
      const found = await findFrame(blocks, tree, cidOrId, options)
      if (found == null) throw new FrameNotFoundError(`no frame "${cidOrId}" in ${options?.ref ?? 'the working tree'}`, { id: cidOrId })
      const record = await readFrame(found.cid, options)
      // On a shared branch itself (its working tree, or the branch named as it is), say whether
      // the network has confirmed this version.
      const branch = options?.ref == null ? await refs.currentBranch() : options.ref
      if (confirmation === undefined || !branch.startsWith('shared/') || /[~^@:]/.test(branch)) return record
      const confirmed = await confirmation(branch, record.id, record.cid, options)
      return confirmed === undefined ? record : { ...record, confirmed }
    },

    async * list (options) {
      if (options?.kind != null || options?.tag != null || options?.q != null) {
        // Filters are answered by the frame index, never by scanning the tree.
        yield * index.list(options)
        return
      }
      const { tree } = await refs.resolveTree(options?.ref, options)
      let count = 0
      const range = { signal: options?.signal, prefix: options?.prefix, gte: options?.after != null ? options.after + '\u0000' : undefined }
      for await (const entry of entries(blocks, tree, range)) {
        const record = await readFrame(entry.value, options)
        yield record
        if (options?.limit != null && ++count >= options.limit) return
      }
    },

    history: async (rawId, options) => {
      const { branch, head } = await historyStart(options?.ref, options)
      const limit = options?.limit
      const walk = async (id: string): Promise<{ versions: FrameVersionRecord[], sessionHeads: CID[] }> => {
        const versions: FrameVersionRecord[] = []
        const sessionHeads: CID[] = []
        if (head == null || limit === 0) return { versions, sessionHeads }
        const onCommit = (_: CID, commit: { sessions?: CID[] }): void => { sessionHeads.push(...commit.sessions ?? []) }
        for await (const v of frameVersions(blocks, head, id, { signal: options?.signal, limit, onCommit })) {
          versions.push({ commit: v.commit, author: v.value.author, time: v.value.time, message: v.value.message, cid: v.cid, steps: [] })
        }
        return { versions, sessionHeads }
      }
      let id = frameId(rawId)
      let { versions, sessionHeads } = await walk(id)
      // A frame stored before ids were normalised is found under the id exactly as given.
      if (versions.length === 0 && id !== rawId) {
        const exact = await walk(rawId)
        if (exact.versions.length > 0) ({ versions, sessionHeads } = exact)
        if (exact.versions.length > 0) id = rawId
      }
      let staged: FrameHistory['staged'] = null
      const dirtyHeads: CID[] = []
      if (branch != null) {
        const work = await findFrame(blocks, await refs.workingTree(branch), id, options)
        const committed = head == null ? undefined : await findFrame(blocks, await refs.treeOfCommit(head, options), id, options)
        const now = work?.cid ?? null
        if (now == null ? committed != null : committed == null || !now.equals(committed.cid)) {
          staged = { cid: now, steps: [] }
          for (const d of await sessions.dirty()) dirtyHeads.push(...d.heads)
        }
      }
      if (versions.length === 0 && staged == null) {
        throw new FrameNotFoundError(`no frame "${rawId}" in the history of ${branch != null ? `branch ${branch}` : options?.ref ?? 'HEAD'}`, { id: rawId })
      }
      const wanted = new Set<string>()
      for (const v of [staged, ...versions]) if (v?.cid != null) wanted.add(cidKey(v.cid))
      const { found, complete } = await stepsNaming([...dirtyHeads, ...sessionHeads], wanted, options?.stepBudget ?? HISTORY_STEP_BUDGET, options)
      const byTime = (a: FrameStep, b: FrameStep): number => a.step.time - b.step.time || (a.cid.toString() < b.cid.toString() ? -1 : 1)
      for (const v of [staged, ...versions]) if (v?.cid != null) v.steps = [...found.get(cidKey(v.cid)) ?? []].sort(byTime)
      return { id, branch, head, staged, versions, stepsComplete: complete }
    },

    revert: async (rawId, to, options) => await exclusive(async () => {
      const notAVersion = (why: string): Error => new FrameNotFoundError(`${to} is not a version of frame "${rawId}": ${why}`, { id: rawId, cid: to.toString() })
      if (!await blocks.has(to)) throw notAVersion('no such block in this repository')
      let frame: Frame
      try {
        frame = decodeFrame(to, await blocks.get(to, options))
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_FRAME_NOT_FOUND') throw notAVersion((err as Error).message)
        throw err
      }
      if (frame.id !== frameId(rawId) && frame.id !== rawId) throw notAVersion(`it is a version of frame "${frame.id}"`)
      await checkResolvable(frameLinks(frame), undefined, `frame ${frame.id} `)
      const branch = await targetBranch(options?.branch)
      await checkVersion(branch, await refs.workingTree(branch), frame.id, options?.ifMatch, options)
      await stage(branch, [{ key: frame.id, value: to }], [], options)
      events.publish('frame:put', { id: frame.id, cid: to.toString(), branch })
      return { id: frame.id, cid: to, frame }
    }),

    remove: async (rawId, options) => await exclusive(async () => {
      const branch = await targetBranch(options?.branch)
      const base = await refs.workingTree(branch)
      const found = await findFrame(blocks, base, rawId, options)
      if (found == null) throw new FrameNotFoundError(`no frame "${rawId}" on branch ${branch}`, { id: rawId })
      const id = found.id
      await checkVersion(branch, base, id, options?.ifMatch, options)
      const tree = await stage(branch, [{ key: id, value: null }], [], options)
      events.publish('frame:remove', { id, branch, tree: tree.toString() })
      return { id, tree }
    })
  }
}
