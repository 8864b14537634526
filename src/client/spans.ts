import type * as Wire from '../core/api-types.ts'
import type { SpanImportService } from '../services/span-import.ts'
import { spanImportResultOf } from '../services/views.ts'
import type { ApiClient } from './api.ts'

/** SpanImportService over the daemon's `POST /api/v1/spans`: the request goes as it is, the daemon decodes it. */
export function remoteSpans (api: ApiClient): SpanImportService {
  return {
    import: async (request, options) => {
      const body = typeof request.body === 'string' ? new TextEncoder().encode(request.body) : request.body
      return spanImportResultOf(await api.json<Wire.SpanImportResult>('/spans', {
        method: 'POST',
        query: { waitForParentMs: options?.waitForParentMs },
        body,
        contentType: request.encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json',
        signal: options?.signal
      }))
    },
    flush: async (options) => {
      const r = await api.json<Wire.SpanFlushResult>('/spans/flush', { method: 'POST', query: { olderThanMs: options?.olderThanMs }, signal: options?.signal })
      return { written: r.written }
    }
  }
}
