import { CID } from 'multiformats/cid'
import { DAG_CBOR, DAG_PB, RAW } from './cid.ts'
import { checkBlockSize, decodeCbor, encodeBlock } from './block.ts'
import { encodeDagCborInto } from './cbor-encode.ts'
import type { CborWriter } from './cbor-encode.ts'
import { fromJsonView, toJsonView } from './json-view.ts'
import type { Block } from './block.ts'
import { FrameInvalidError, FrameNotFoundError } from './errors.ts'
import { describeSchemaError, validateFrameJson } from './schemas.ts'
import { isTreeNode } from './tree/node.ts'
import { getEntry } from './tree/read.ts'
import type { BlockReader } from './tree/types.ts'

/** A link from a frame to another frame, with an optional relation name (`cites`, `contradicts`, ...). */
export interface FrameLink {
  cid: CID
  rel?: string
}

/** A file stored with UnixFS and recorded in a frame. */
export interface Attachment {
  name: string
  cid: CID
  /** Size of the file in bytes. */
  size: number
  /** Media type, e.g. `image/png`. */
  type: string
}

/**
 * A unit of knowledge. Content only (no author, no time): the same frame has the same CID on
 * every machine, like a Git blob.
 */
export interface Frame {
  id: string
  kind: string
  title?: string
  body?: unknown
  tags?: string[]
  links?: FrameLink[]
  attachments?: Attachment[]
}

import type { SourceHint } from './json-view.ts'
export type { SourceHint }

function where (hint?: SourceHint): string {
  return hint?.source != null ? `${hint.source}: ` : ''
}

/**
 * A frame id as framehub stores and looks it up: Unicode NFC, so `café` typed with a combining
 * accent (NFD, as macOS file names are) is the same id as the precomposed one.
 */
export function frameId (id: string): string {
  return id.normalize('NFC')
}

/**
 * The tree entry of a frame id: its NFC form, else (a frame stored before ids were normalised)
 * the id exactly as given. Undefined if neither is there.
 */
export async function findFrame (reader: BlockReader, tree: CID, id: string, options?: { signal?: AbortSignal }): Promise<{ id: string, cid: CID } | undefined> {
  const nfc = frameId(id)
  const cid = await getEntry(reader, tree, nfc, options)
  if (cid != null) return { id: nfc, cid }
  const exact = nfc !== id ? await getEntry(reader, tree, id, options) : undefined
  return exact != null ? { id, cid: exact } : undefined
}

/**
 * Validates the JSON view of a frame against `schemas/frame.schema.json` and returns its canonical
 * IPLD form: id in NFC, tags sorted and unique, empty lists dropped, so equal content gives equal
 * CIDs. A frame nested deeper than MAX_JSON_DEPTH is refused before any recursive work.
 */
export function frameFromJson (json: unknown, hint?: SourceHint): Frame {
  // The id is normalised before it is validated, so the stored id is the one the schema passed.
  const rawId = (json as { id?: unknown } | null)?.id
  if (typeof rawId === 'string' && frameId(rawId) !== rawId) json = { ...(json as object), id: frameId(rawId) }
  if (!validateFrameJson(json)) {
    throw new FrameInvalidError(`${where(hint)}frame ${describeSchemaError(validateFrameJson.errors)}`, { source: hint?.source })
  }
  if (!(json as { id: string }).id.isWellFormed()) {
    throw new FrameInvalidError(`${where(hint)}frame /id: must be well-formed Unicode (no lone surrogates)`, { source: hint?.source })
  }
  let value: Record<string, unknown>
  try {
    value = fromJsonView(json) as Record<string, unknown>
  } catch (err) {
    throw new FrameInvalidError(`${where(hint)}frame ${(err as Error).message}`, { source: hint?.source })
  }
  return canonicalFrame(value as unknown as Frame)
}

/** Canonical form of a frame: id in NFC, sorted unique tags, no empty lists, no undefined fields. */
export function canonicalFrame (frame: Frame): Frame {
  const out: Frame = { id: frameId(frame.id), kind: frame.kind }
  if (frame.title !== undefined) out.title = frame.title
  if (frame.body !== undefined) out.body = frame.body
  if (frame.tags != null && frame.tags.length > 0) out.tags = [...new Set(frame.tags)].sort()
  if (frame.links != null && frame.links.length > 0) out.links = frame.links
  if (frame.attachments != null && frame.attachments.length > 0) out.attachments = frame.attachments
  return out
}

/**
 * Encodes a (canonical) frame as a DAG-CBOR block. Throws `ERR_PAYLOAD_TOO_LARGE` past
 * MAX_BLOCK_BYTES (1 MiB), the largest frame.
 */
export function encodeFrame (frame: Frame, hint?: SourceHint): Block {
  return encodeBlock(frame, `${where(hint)}frame ${frame.id}`)
}

/**
 * `encodeFrame` into `w`, after what it holds: the block's bytes (a view of `w`'s buffer, good until
 * the next write to it). Past MAX_BLOCK_BYTES it throws the same error, and `w` is as it was.
 */
export function encodeFrameInto (frame: Frame, w: CborWriter, hint?: SourceHint): Uint8Array {
  const start = encodeDagCborInto(w, frame)
  const bytes = w.bytes.subarray(start, w.pos)
  try {
    checkBlockSize(bytes, `${where(hint)}frame ${frame.id}`)
  } catch (err) {
    w.pos = start
    throw err
  }
  return bytes
}

/** What a block that is not a frame is, for messages: `a commit`, `a trace step`, ... */
function blockKind (cid: CID, value: unknown): string | undefined {
  if (cid.code === RAW) return 'a raw block (file data)'
  if (cid.code === DAG_PB) return 'a UnixFS node (dag-pb: a file or directory)'
  if (cid.code !== DAG_CBOR) return `a block of codec 0x${cid.code.toString(16)}`
  if (value === null || typeof value !== 'object') return undefined
  if ('tree' in value && 'parents' in value && 'author' in value) return 'a commit'
  if ('session' in value && 'op' in value && 'node' in value) return 'a trace step'
  if (isTreeNode(value)) return 'a tree node'
  return undefined
}

/**
 * Decodes and validates a stored frame block. A block that is something else (a commit, a trace
 * step, a tree node, file data) is `ERR_FRAME_NOT_FOUND`, saying what it is.
 */
export function decodeFrame (cid: CID, bytes: Uint8Array): Frame {
  const other = cid.code !== DAG_CBOR ? blockKind(cid, undefined) : undefined
  const value = other == null ? decodeCbor(cid, bytes) : undefined
  const kind = other ?? (looksLikeFrame(value) ? undefined : blockKind(cid, value))
  if (kind != null) {
    const hint = cid.code === DAG_CBOR ? `; use \`framehub show ${cid}\`` : ''
    throw new FrameNotFoundError(`${cid} is ${kind}, not a frame${hint}`, { cid: cid.toString(), kind: kind.replace(/^an? /, '').replace(/ \(.*$/, '') })
  }
  let json: unknown
  try {
    json = toJsonView(value)
  } catch (err) {
    throw new FrameInvalidError(`block ${cid} is not a frame: ${(err as Error).message}`, { cid: cid.toString() })
  }
  if (!validateFrameJson(json)) {
    throw new FrameInvalidError(`block ${cid} is not a valid frame: ${describeSchemaError(validateFrameJson.errors)}`, { cid: cid.toString() })
  }
  return value as Frame
}

/** The JSON view of a frame (DAG-JSON conventions for links). */
export function frameToJson (frame: Frame): Record<string, unknown> {
  return toJsonView(frame) as Record<string, unknown>
}

/** The CIDs a frame depends on: linked frames, attachments and links inside the body. */
export function frameLinks (frame: Frame): CID[] {
  const out: CID[] = []
  for (const l of frame.links ?? []) out.push(l.cid)
  for (const a of frame.attachments ?? []) out.push(a.cid)
  collect(frame.body, out)
  return out
}

function collect (value: unknown, out: CID[]): void {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return
  const cid = CID.asCID(value)
  if (cid != null) { out.push(cid); return }
  for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, out)
}

/** Shape test used to tell a decoded frame from other framehub blocks. */
export function looksLikeFrame (value: unknown): boolean {
  return value !== null && typeof value === 'object' && typeof (value as Frame).id === 'string' &&
    typeof (value as Frame).kind === 'string' && !('session' in value) && !('tree' in value)
}

/**
 * A frame's JSON view with `attached` appended to its `attachments`, each CID as a DAG-JSON link
 * (what the frame service's `put` stores with `attach`). A value that is not an object is left to
 * validation.
 */
export function withAttachments (json: unknown, attached: Attachment[]): unknown {
  if (attached.length === 0 || json === null || typeof json !== 'object' || Array.isArray(json)) return json
  const existing = (json as { attachments?: unknown }).attachments
  return { ...json, attachments: [...(Array.isArray(existing) ? existing : []), ...attached.map(a => ({ ...a, cid: { '/': a.cid.toString() } }))] }
}
