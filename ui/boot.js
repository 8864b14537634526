// The first thing the page runs: it starts the requests of the view in the address (the commit
// graph of a branch, a session's graph and routes) while the page's other modules, the graph
// libraries above all, are still loading; the view takes those answers when it asks (api.js).
import { enc, prefetch } from '/ui/api.js'

/** The most commits or steps a graph shows at first. */
export const GRAPH_MAX = 1000
export const SESSION_GRAPH_QUERY = { limit: GRAPH_MAX }
export const SESSION_ROUTES_QUERY = { limit: 100 }

/** The query of one page of a branch's commit graph, for at most `max` commits. */
export const historyQuery = (ref, max) => ({ ref, limit: Math.min(max, GRAPH_MAX) })

/** The view, its argument and its parameters, from the address's hash (#/view/arg?params). */
export function parseHash () {
  const raw = location.hash.replace(/^#\/?/, '')
  const q = raw.indexOf('?')
  const path = q < 0 ? raw : raw.slice(0, q)
  const params = Object.fromEntries(new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)))
  const slash = path.indexOf('/')
  const view = slash < 0 ? path : path.slice(0, slash)
  const arg = slash < 0 ? undefined : decodeURIComponent(path.slice(slash + 1))
  return { view: view || 'frames', arg, params }
}

const { view, arg, params } = parseHash()
if (view === 'commits' || view === 'commit') {
  prefetch('/branches')
  if (view === 'commits' && params.branch != null) prefetch('/commit-graph', historyQuery(params.branch, Number(params.limit) || GRAPH_MAX))
} else if (view === 'session' && arg != null) {
  prefetch(`/sessions/${enc(arg)}/graph`, SESSION_GRAPH_QUERY)
  prefetch(`/sessions/${enc(arg)}/routes`, SESSION_ROUTES_QUERY)
}
