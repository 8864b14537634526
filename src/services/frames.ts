import { basename } from 'node:path'
import mime from 'mime-types'
import type { CID } from 'multiformats/cid'
import { asJsonView, cidKey, MAX_JSON_TEXT_BYTES, tryParseCid } from '../core/codec.ts'
import type { Block } from '../core/codec.ts'
import { FrameInvalidError, FrameNotFoundError, LinkUnresolvedError, PayloadTooLargeError, RefNotFoundError } from '../core/errors.ts'
import { decodeFrame, encodeFrame, frameFromJson, frameId, frameLinks, parseJsonText } from '../core/frame.ts'
import type { Attachment, Frame } from '../core/frame.ts'
import { buildTree, entries, getEntry, mutateTree } from '../core/tree/index.ts'
import type { TreeChange } from '../core/tree/index.ts'
import { encodeCid, keys } from '../storage/state.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'
import { frameIndex } from './frame-query.ts'
import { checkBranchName } from './refs.ts'
import type { RefService } from './refs.ts'

/** A frame as the services return it. */
export interface FrameRecord {
  id: string
  cid: CID
  frame: Frame
}

export interface PutFrameOptions extends CallOptions {
  /** Branch whose working tree gets the frame; default: the current branch. */
  branch?: string
  /** Where the frame came from, for error messages. */
  source?: string
}

export interface ImportProgress {
  frames: number
  bytes: number
}

export interface ImportResult {
  frames: number
  /** Working tree after the import. */
  tree: CID
}

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

export interface AttachmentInput {
  name: string
  bytes: Uint8Array
  /** Media type; guessed from the name if missing. */
  type?: string
}

/** Writing, staging and reading frames. */
export interface FrameService {
  /** Validates, stores and stages one frame (JSON view); returns its CID. */
  put (json: unknown, options?: PutFrameOptions): Promise<FrameRecord>
  /** Stores and stages many frames (NDJSON lines) in batches; all or nothing. */
  import (lines: AsyncIterable<string> | Iterable<string>, options?: PutFrameOptions & ProgressOptions<ImportProgress>): Promise<ImportResult>
  /** Stores a file with UnixFS and describes it for a frame's `attachments`. */
  attach (input: AttachmentInput, options?: CallOptions): Promise<Attachment>
  /** Reads a frame by CID, or by id in `ref` (default: the current working tree). */
  get (cidOrId: string, options?: CallOptions & { ref?: string }): Promise<FrameRecord>
  list (options?: ListFramesOptions): AsyncIterable<FrameRecord>
  /** Stages the removal of a frame id. */
  remove (id: string, options?: PutFrameOptions): Promise<{ id: string, tree: CID }>
}

const IMPORT_BATCH = 8192

export function createFrameService (components: ServiceComponents, refs: RefService): FrameService {
  const { repo, exclusive, events } = components
  const blocks = repo.blocks

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
    checkBranchName(branch)
    if (await refs.branchHead(branch) == null) throw new RefNotFoundError(`no branch "${branch}" (create it with "framehub branch ${branch}")`, { ref: branch })
    return branch
  }

  /** Applies changes to a branch's working tree and writes it with `extra` blocks, atomically. */
  const stage = async (branch: string, changes: TreeChange[], extra: Block[], options?: CallOptions): Promise<CID> => {
    const base = await refs.workingTree(branch)
    const result = base.equals(EMPTY_TREE) && changes.every(c => c.value != null)
      ? buildTree(changes.map(c => ({ key: c.key, value: c.value as CID })))
      : await mutateTree(blocks, base, changes, options)
    const batch = repo.batch()
    for (const b of extra) batch.putBlock(b.cid, b.bytes)
    for (const b of result.blocks) batch.putBlock(b.cid, b.bytes)
    const head = await refs.branchHead(branch)
    const headTree = head == null ? EMPTY_TREE : await refs.treeOfCommit(head, options)
    if (result.root.equals(headTree)) batch.delState(keys.work(branch))
    else batch.putState(keys.work(branch), encodeCid(result.root))
    await batch.write()
    return result.root
  }

  const readFrame = async (cid: CID, options?: CallOptions): Promise<FrameRecord> => {
    const frame = decodeFrame(cid, await blocks.get(cid, options))
    return { id: frame.id, cid, frame }
  }

  return {
    put: async (json, options) => await exclusive(async () => {
      const where = options?.source != null ? `${options.source}: ` : ''
      const frame = frameFromJson(asJsonView(json), { source: options?.source })
      await checkResolvable(frameLinks(frame), undefined, `${where}frame ${frame.id} `)
      const block = encodeFrame(frame, { source: options?.source })
      const branch = await targetBranch(options?.branch)
      await stage(branch, [{ key: frame.id, value: block.cid }], [block], options)
      events.publish('frame:put', { id: frame.id, cid: block.cid.toString(), branch })
      return { id: frame.id, cid: block.cid, frame }
    }),

    import: async (lines, options) => await exclusive(async () => {
      const source = options?.source ?? 'input'
      const changes = new Map<string, CID>()
      const written = new Set<string>()
      const pendingLinks: Array<{ link: CID, where: string }> = []
      let batch = repo.batch()
      let lineNo = 0
      let bytes = 0
      for await (const line of lines) {
        lineNo++
        options?.signal?.throwIfAborted()
        if (line.trim() === '') continue
        const hint = { source: `${source}:${lineNo}` }
        // The limits of `frame put`: a line is one frame's JSON text.
        if (line.length > MAX_JSON_TEXT_BYTES / 3 && Buffer.byteLength(line) > MAX_JSON_TEXT_BYTES) throw new PayloadTooLargeError(`${hint.source}: the line is longer than the limit of ${MAX_JSON_TEXT_BYTES} bytes of JSON for one frame`, { source: hint.source, line: lineNo, limit: MAX_JSON_TEXT_BYTES })
        const frame = frameFromJson(parseJsonText(line, hint), hint)
        const block = encodeFrame(frame, hint)
        for (const link of frameLinks(frame)) pendingLinks.push({ link, where: `${hint.source}: frame ${frame.id} ` })
        // All or nothing, like the rest of an import: two lines for one id are refused, not collapsed.
        if (changes.has(frame.id)) throw new FrameInvalidError(`${hint.source}: frame id "${frame.id}" appears twice in this import (an import holds each id once)`, { source: hint.source, line: lineNo, id: frame.id })
        changes.set(frame.id, block.cid)
        const key = cidKey(block.cid)
        if (!written.has(key)) {
          written.add(key)
          batch.putBlock(block.cid, block.bytes)
          bytes += block.bytes.byteLength
        }
        // Frame blocks go down in big batches; they stay invisible until the working tree moves.
        if (batch.size >= IMPORT_BATCH) {
          await batch.write()
          batch = repo.batch()
          options?.onProgress?.({ type: 'frames:import:progress', detail: { frames: changes.size, bytes } })
        }
      }
      await batch.write()
      for (const { link, where } of pendingLinks) await checkResolvable([link], written, where)
      const branch = await targetBranch(options?.branch)
      const sorted = [...changes].map(([key, value]) => ({ key, value }))
      const tree = await stage(branch, sorted, [], options)
      options?.onProgress?.({ type: 'frames:import:done', detail: { frames: changes.size, bytes } })
      events.publish('frame:import', { frames: changes.size, branch, tree: tree.toString() })
      return { frames: changes.size, tree }
    }),

    attach: async (input, options) => {
      const { unixfs } = await import('@helia/unixfs')
      const fs = unixfs(await repo.helia())
      const cid = await fs.addBytes(input.bytes, { signal: options?.signal })
      const type = input.type ?? (mime.lookup(input.name) || 'application/octet-stream')
      return { name: basename(input.name), cid, size: input.bytes.byteLength, type }
    },

    get: async (cidOrId, options) => {
      const asCid = tryParseCid(cidOrId)
      if (asCid != null) return await readFrame(asCid, options)
      const { tree } = await refs.resolveTree(options?.ref, options)
      const cid = await getEntry(blocks, tree, frameId(cidOrId), options)
      if (cid == null) throw new FrameNotFoundError(`no frame "${cidOrId}" in ${options?.ref ?? 'the working tree'}`, { id: cidOrId })
      return await readFrame(cid, options)
    },

    async * list (options) {
      if (options?.kind != null || options?.tag != null || options?.q != null) {
        // Filters are answered by the frame index, never by scanning the tree.
        yield * frameIndex(components, refs).list(options)
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

    remove: async (rawId, options) => await exclusive(async () => {
      const id = frameId(rawId)
      const branch = await targetBranch(options?.branch)
      const base = await refs.workingTree(branch)
      if (await getEntry(blocks, base, id, options) == null) throw new FrameNotFoundError(`no frame "${id}" on branch ${branch}`, { id })
      const tree = await stage(branch, [{ key: id, value: null }], [], options)
      events.publish('frame:remove', { id, branch, tree: tree.toString() })
      return { id, tree }
    })
  }
}

