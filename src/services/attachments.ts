import { createRequire } from 'node:module'
import { basename } from 'node:path'
import type { UnixFS } from '@helia/unixfs'
import type mimeTypes from 'mime-types'
import type { CID } from 'multiformats/cid'
import { BlockNotFoundError } from '../core/errors.ts'
import type { Attachment } from '../core/frame.ts'
import { encodeJson, keys } from '../storage/state.ts'
import type { CallOptions, ServiceComponents } from './context.ts'

export interface AttachmentInput {
  name: string
  bytes: Uint8Array
  /** Media type; guessed from the name if missing. */
  type?: string
}

/** What UnixFS says of a stored entry. */
export interface StoredFile {
  cid: CID
  /** UnixFS entry type (`file`, `raw`, `directory`, ...). */
  kind: string
  /** Bytes of the file's content. */
  size: number
}

/** What was remembered of a file uploaded through `add`. */
export interface FileLabel {
  name: string
  /** Media type given or guessed at upload. */
  type: string
}

export interface ReadFileOptions extends CallOptions {
  /** First byte to read (default 0). */
  offset?: number
  /** Bytes to read (default: to the end). */
  length?: number
}

/** Files stored with UnixFS (attachments of frames), read from local blocks only. */
export interface AttachmentService {
  /** Stores a file and remembers its name and media type (atomically, under the write lock). */
  add (input: AttachmentInput, options?: CallOptions): Promise<Attachment>
  /**
   * What is stored under `cid`: ERR_BLOCK_NOT_FOUND when its root block is not in this
   * repository; what UnixFS throws when the block is not a UnixFS entry.
   */
  stat (cid: CID, options?: CallOptions): Promise<StoredFile>
  /** The name and media type given when the file was added; undefined for a file stored otherwise. */
  label (cid: CID): Promise<FileLabel | undefined>
  /** The bytes of a stored file (hash-checked as read); never waits on the network. */
  cat (cid: CID, options?: ReadFileOptions): AsyncIterable<Uint8Array>
}

export type AttachmentComponents = Pick<ServiceComponents, 'blocks' | 'helia' | 'state' | 'writeBatch' | 'exclusive'>

/** What the gateway remembers of an upload, so a download gets the right media type. */
interface AttachmentMeta {
  name: string
  type: string
  size: number
}

const files = async ({ helia }: Pick<ServiceComponents, 'helia'>): Promise<UnixFS> => {
  const { unixfs } = await import('@helia/unixfs')
  return unixfs(await helia())
}

/** Stores a file with UnixFS and describes it for a frame's `attachments` (nothing else is written). */
export async function storeFile (components: Pick<ServiceComponents, 'helia'>, input: AttachmentInput, options?: CallOptions): Promise<Attachment> {
  const cid = await (await files(components)).addBytes(input.bytes, { signal: options?.signal })
  // mime-types (and its 200 kB table) is loaded only when an attachment needs a type guessed.
  const type = input.type ?? ((createRequire(import.meta.url)('mime-types') as typeof mimeTypes).lookup(input.name) || 'application/octet-stream')
  return { name: basename(input.name), cid, size: input.bytes.byteLength, type }
}

export function createAttachmentService (components: AttachmentComponents): AttachmentService {
  const { blocks, state, writeBatch, exclusive } = components

  return {
    add: async (input, options) => {
      const record = await storeFile(components, input, options)
      const meta: AttachmentMeta = { name: record.name, type: record.type, size: record.size }
      // The file's blocks are written by Helia's blockstore; its metadata goes through the write
      // lock and a WriteBatch like every other state write.
      await exclusive(async () => { await writeBatch().putState(keys.attachment(record.cid.toString()), encodeJson(meta)).write() })
      return record
    },

    stat: async (cid, options) => {
      // Local blocks only: never waits on the network.
      if (!await blocks.has(cid, options)) throw new BlockNotFoundError(`block ${cid} is not in this repository`, { cid: cid.toString() })
      const stat = await (await files(components)).stat(cid, { offline: true, signal: options?.signal })
      return { cid, kind: stat.type, size: Number(stat.size) }
    },

    label: async (cid) => {
      const meta = await state.json<AttachmentMeta>(keys.attachment(cid.toString()))
      return meta == null ? undefined : { name: meta.name, type: meta.type }
    },

    async * cat (cid, options) {
      yield * (await files(components)).cat(cid, { offset: options?.offset, length: options?.length, offline: true, signal: options?.signal })
    }
  }
}
