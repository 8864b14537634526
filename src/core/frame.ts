import { CID } from 'multiformats/cid'
import { decodeCbor, encodeBlock, fromJsonView, toJsonView } from './codec.ts'
export { parseJsonText } from './codec.ts'
import type { Block } from './codec.ts'
import { FrameInvalidError } from './errors.ts'
import { describeSchemaError, validateFrameJson } from './schemas.ts'

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

import type { SourceHint } from './codec.ts'
export type { SourceHint }

function where (hint?: SourceHint): string {
  return hint?.source != null ? `${hint.source}: ` : ''
}

/**
 * Validates the JSON view of a frame against `schemas/frame.schema.json` and returns its canonical
 * IPLD form: tags sorted and unique, empty lists dropped, so equal content gives equal CIDs.
 */
export function frameFromJson (json: unknown, hint?: SourceHint): Frame {
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

/** Canonical form of a frame: sorted unique tags, no empty lists, no undefined fields. */
export function canonicalFrame (frame: Frame): Frame {
  const out: Frame = { id: frame.id, kind: frame.kind }
  if (frame.title !== undefined) out.title = frame.title
  if (frame.body !== undefined) out.body = frame.body
  if (frame.tags != null && frame.tags.length > 0) out.tags = [...new Set(frame.tags)].sort()
  if (frame.links != null && frame.links.length > 0) out.links = frame.links
  if (frame.attachments != null && frame.attachments.length > 0) out.attachments = frame.attachments
  return out
}

/** Encodes a (canonical) frame as a DAG-CBOR block. */
export function encodeFrame (frame: Frame): Block {
  return encodeBlock(frame)
}

/** Decodes and validates a stored frame block. */
export function decodeFrame (cid: CID, bytes: Uint8Array): Frame {
  const value = decodeCbor(cid, bytes)
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
