import { CID } from 'multiformats/cid'
import type { SpanImportService } from '../services/span-import.ts'
import type { ApiClient } from './api.ts'

interface ImportView {
  spans: number
  written: number
  existing: number
  waiting: number
  sessions: Array<{ session: string, heads: string[] }>
  steps: Array<{ traceId: string, spanId: string, session: string, status: 'written' | 'existing' | 'waiting', cid?: string }>
}

/** SpanImportService over the daemon's `POST /api/v1/spans`: the request goes as it is, the daemon decodes it. */
export function remoteSpans (api: ApiClient): SpanImportService {
  return {
    import: async (request, options) => {
      const body = typeof request.body === 'string' ? new TextEncoder().encode(request.body) : request.body
      const r = await api.json<ImportView>('/spans', {
        method: 'POST',
        query: { waitForParentMs: options?.waitForParentMs },
        body,
        contentType: request.encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json',
        signal: options?.signal
      })
      return {
        spans: r.spans,
        written: r.written,
        existing: r.existing,
        waiting: r.waiting,
        sessions: r.sessions.map(s => ({ session: s.session, heads: s.heads.map(h => CID.parse(h)) })),
        steps: r.steps.map(({ cid, ...s }) => ({ ...s, ...(cid != null ? { cid: CID.parse(cid) } : {}) }))
      }
    },
    flush: async (options) => await api.json<{ written: number }>('/spans/flush', { method: 'POST', query: { olderThanMs: options?.olderThanMs }, signal: options?.signal })
  }
}
