import { basename } from 'node:path'
import { CID } from 'multiformats/cid'
import { tryParseCid } from '../core/cid.ts'
import { asJsonView } from '../core/json-view.ts'
import { FrameNotFoundError, UsageError } from '../core/errors.ts'
import { encodeFrame, frameFromJson, withAttachments } from '../core/frame.ts'
import type { Attachment } from '../core/frame.ts'
import type { FrameService, ImportResult } from '../services/frames.ts'
import type * as Wire from '../core/api-types.ts'
import type { NdjsonRead } from '../core/ndjson-runs.ts'
import { frameHistoryOf, frameRecordOf } from '../services/views.ts'
import { isDotSegment, segment } from './api.ts'
import type { ApiClient } from './api.ts'

/** Largest page the gateway gives. */
const PAGE = 1000

/** Bytes of a file read at a time for an upload. */
const UPLOAD_READ_BYTES = 1024 * 1024

/** The bytes `read` gives, in chunks of their own (a request body keeps each until it is sent). */
async function * readChunksOf (read: NdjsonRead): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = Buffer.allocUnsafe(UPLOAD_READ_BYTES)
    const n = await read(chunk, 0, chunk.byteLength)
    if (n === 0) return
    yield chunk.subarray(0, n)
  }
}

/** How often an import reports progress, in lines sent. */
const PROGRESS_LINES = 8192

/** The `source` the gateway accepts for error messages (a name, no control characters). */
const sourceParam = (source: string | undefined): string | undefined =>
  source != null && source.length <= 256 && /^[^\u0000-\u001f]+$/.test(source) ? source : undefined

/** The gateway's upload names: no slashes, quotes or control characters. */
const uploadName = (path: string): string => (basename(path).replace(/[/\\\u0000-\u001f"]/g, '_') || 'file').slice(0, 255)

/** An id the routes `/frames/{id}/history` and `/frames/{id}/revert` can name. */
const byIdPath = (id: string, action: string): string => {
  if (isDotSegment(id) || id.startsWith('by-id/')) throw new UsageError(`frame id "${id}" cannot be named in the daemon's /frames/{id}/${action} (stop the daemon to use it locally)`)
  return `/frames/${segment(id)}/${action}`
}

/** The conditional-write headers of `ifMatch`: `If-Match: "<cid>"`, or `If-None-Match: *` for null. */
const preconditions = (ifMatch: CID | null | undefined): Record<string, string | undefined> | undefined =>
  ifMatch === undefined ? undefined : ifMatch === null ? { 'if-none-match': '*' } : { 'if-match': `"${ifMatch.toString()}"` }

/** FrameService over the daemon's `/api/v1/frames` and `/api/v1/attachments`. */
export function remoteFrames (api: ApiClient): FrameService {
  const list: FrameService['list'] = async function * (options) {
    let cursor: string | undefined
    let count = 0
    do {
      const want = options?.limit != null ? Math.min(PAGE, options.limit - count) : PAGE
      if (want <= 0) return
      const page = await api.json<Wire.FrameList>('/frames', {
        query: cursor != null
          ? { cursor, kind: options?.kind, tag: options?.tag, q: options?.q, prefix: options?.prefix, limit: want }
          : { ref: options?.ref, kind: options?.kind, tag: options?.tag, q: options?.q, prefix: options?.prefix, after: options?.after, limit: want },
        signal: options?.signal
      })
      for (const view of page.frames) {
        yield frameRecordOf(view)
        count++
      }
      cursor = page.cursor ?? undefined
    } while (cursor != null)
  }

  const attach: FrameService['attach'] = async (input, options) => {
    const r = await api.json<Wire.AttachmentRecord>('/attachments', {
      method: 'POST',
      query: { name: uploadName(input.name), type: input.type },
      body: input.bytes,
      contentType: 'application/octet-stream',
      signal: options?.signal
    })
    return { name: r.name, cid: CID.parse(r.cid), size: r.size, type: r.type }
  }

  return {
    put: async (input, options) => {
      // The files go up first, as `attach` sends them; the frame names them as the service's put does.
      const attached: Attachment[] = []
      for (const file of options?.attach ?? []) attached.push(await attach(file, options))
      const view = asJsonView(withAttachments(input, attached))
      // Checked here with the code the daemon runs (schema, depth, the 1 MiB frame limit), so a
      // frame is refused the same way with or without a daemon, and nothing oversized is uploaded.
      encodeFrame(frameFromJson(view, { source: options?.source }), { source: options?.source })
      return frameRecordOf(await api.json<Wire.FrameRecord>('/frames', {
        method: 'POST',
        query: { branch: options?.branch, source: sourceParam(options?.source) },
        headers: preconditions(options?.ifMatch),
        json: view,
        signal: options?.signal
      }))
    },

    import: async (input, options) => {
      let frames = 0
      let bytes = 0
      const encoder = new TextEncoder()
      // Lines go up as they are read (the gateway parses them as they arrive); progress counts what was sent.
      const body = 'ndjson' in input || 'readNdjson' in input
        ? (async function * () {
            // Bytes go up as they are; progress counts their lines.
            for await (const chunk of 'ndjson' in input ? input.ndjson : readChunksOf(input.readNdjson)) {
              bytes += chunk.byteLength
              const before = frames
              for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) frames++
              if (Math.floor(frames / PROGRESS_LINES) > Math.floor(before / PROGRESS_LINES)) options?.onProgress?.({ type: 'frames:import:progress', detail: { frames, bytes } })
              yield chunk
            }
          })()
        : (async function * () {
            for await (const line of input) {
              const chunk = encoder.encode(line + '\n')
              bytes += chunk.byteLength
              if (line.trim() !== '' && ++frames % PROGRESS_LINES === 0) options?.onProgress?.({ type: 'frames:import:progress', detail: { frames, bytes } })
              yield chunk
            }
          })()
      const r = await api.json<Wire.ImportResult>('/frames/import', {
        method: 'POST',
        query: { branch: options?.branch, source: sourceParam(options?.source) },
        body,
        contentType: 'application/x-ndjson',
        signal: options?.signal
      })
      const result: ImportResult = { frames: r.frames, tree: CID.parse(r.tree) }
      options?.onProgress?.({ type: 'frames:import:done', detail: { frames: r.frames, bytes } })
      return result
    },

    attach,

    get: async (cidOrId, options) => {
      const cid = tryParseCid(cidOrId)
      if (cid != null) return frameRecordOf(await api.json<Wire.FrameRecord>(`/frames/${cid.toString()}`, { signal: options?.signal }))
      if (isDotSegment(cidOrId)) {
        // "." and ".." cannot be a URL path segment: the first frame listed from that prefix is it, if it exists.
        for await (const r of list({ ref: options?.ref, prefix: cidOrId, limit: 1, signal: options?.signal })) if (r.id === cidOrId) return r
        throw new FrameNotFoundError(`no frame "${cidOrId}" in ${options?.ref ?? 'the working tree'}`, { id: cidOrId })
      }
      return frameRecordOf(await api.json<Wire.FrameRecord>(`/frames/by-id/${segment(cidOrId)}`, { query: { ref: options?.ref }, signal: options?.signal }))
    },

    list,

    history: async (id, options) => frameHistoryOf(await api.json<Wire.FrameHistory>(byIdPath(id, 'history'), {
      query: { ref: options?.ref, limit: options?.limit },
      signal: options?.signal
    })),

    revert: async (id, to, options) => frameRecordOf(await api.json<Wire.FrameRecord>(byIdPath(id, 'revert'), {
      method: 'POST',
      query: { branch: options?.branch },
      headers: preconditions(options?.ifMatch),
      json: { to: to.toString() },
      signal: options?.signal
    })),

    remove: async (id, options) => {
      if (isDotSegment(id)) throw new UsageError(`frame id "${id}" cannot be removed through the daemon's API (stop the daemon to remove it locally)`)
      const r = await api.json<Wire.FrameRemoveResult>(`/frames/by-id/${segment(id)}`, {
        method: 'DELETE',
        query: { branch: options?.branch },
        headers: preconditions(options?.ifMatch),
        signal: options?.signal
      })
      return { id: r.id, tree: CID.parse(r.tree) }
    }
  }
}
