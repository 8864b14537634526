import { CID } from 'multiformats/cid'
import { asJsonView, fromJsonView } from '../core/json-view.ts'
import { traceStepInputFromJson } from '../core/trace-step.ts'
import type { TraceStep } from '../core/trace-step.ts'
import type { TraceService } from '../services/traces.ts'
import { UsageError } from '../core/errors.ts'
import { isDotSegment, segment } from './api.ts'
import type { ApiClient } from './api.ts'
import type * as Wire from '../core/api-types.ts'

const PAGE = 1000
const cids = (list: string[]): CID[] => list.map(c => CID.parse(c))

/** TraceService over the daemon's `/api/v1/sessions`. */
export function remoteTraces (api: ApiClient): TraceService {
  const path = (session: string, rest: string): string => {
    if (isDotSegment(session)) throw new UsageError(`session "${session}" cannot be reached through the daemon's API (stop the daemon to use it locally)`)
    return `/sessions/${segment(session)}/${rest}`
  }
  return {
    append: async (session, json, options) => {
      const step = asJsonView(json)
      // Checked here as the daemon checks it, so bad input gets the same error (and a value too deep to be sent as JSON is refused, not a crash).
      traceStepInputFromJson(step)
      const r = await api.json<Wire.AppendResult>(path(session, 'steps'), {
        method: 'POST',
        json: { step, parents: options?.parents?.map(p => p.toString()) },
        signal: options?.signal
      })
      return { cid: CID.parse(r.cid), session: r.session, parents: cids(r.parents), heads: cids(r.heads) }
    },

    async * show (session, options) {
      let cursor: string | undefined
      do {
        const page = await api.json<Wire.StepList>(path(session, 'steps'), {
          query: { limit: PAGE, cursor },
          signal: options?.signal
        })
        for (const s of page.steps) yield { cid: CID.parse(s.cid), step: fromJsonView(s.step) as TraceStep }
        cursor = page.cursor ?? undefined
      } while (cursor != null)
    },

    heads: async (session) => cids((await api.json<Wire.Session>(path(session, 'heads'))).heads),

    routes: async (session, options) => {
      // The in-process default, stated: the gateway's own default is smaller.
      const r = await api.json<Wire.Routes>(path(session, 'routes'), { query: { limit: options?.limit ?? 1000 }, signal: options?.signal })
      return r.routes.map(cids)
    },

    async * sessions () {
      let cursor: string | undefined
      do {
        const page = await api.json<Wire.SessionList>('/sessions', { query: { limit: PAGE, cursor } })
        for (const s of page.sessions) yield { session: s.session, heads: cids(s.heads) }
        cursor = page.cursor ?? undefined
      } while (cursor != null)
    }
  }
}
