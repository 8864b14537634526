// The documented HTTP API (/api/v1), the only thing the explorer reads.

export class ApiError extends Error {
  constructor (status, body) {
    super(body?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.code ?? 'ERR_HTTP'
  }
}

const TOKEN_KEY = 'framehub-token'
/** The bearer token for writes, kept for this tab only (never needed to read). */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => { if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY) }
}

export const enc = encodeURIComponent

function url (path, params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params ?? {})) {
    if (Array.isArray(v)) for (const one of v) q.append(k, String(one))
    else if (v != null && v !== '') q.set(k, String(v))
  }
  const s = q.toString()
  return `/api/v1${path}${s ? `?${s}` : ''}`
}

async function answer (res) {
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : undefined
  if (!res.ok) throw new ApiError(res.status, body)
  return body
}

/** Answers asked for before the page's modules were loaded (boot.js), by URL: each is used once. */
const early = new Map()

/** Starts a GET now, for the first view to take (`get` with the same path and parameters) when it asks. */
export function prefetch (path, params) {
  const u = url(path, params)
  if (!early.has(u)) {
    const answered = fetch(u, { headers: { accept: 'application/json' } }).then(answer)
    answered.catch(() => {})
    early.set(u, answered)
  }
  return early.get(u)
}

/** Forgets what was fetched early and not taken (the first view is drawn: later views ask afresh). */
export function dropPrefetched () { early.clear() }

export async function get (path, params, init) {
  const u = url(path, params)
  const answered = init == null ? early.get(u) : undefined
  if (answered != null) {
    early.delete(u)
    return await answered
  }
  return await answer(await fetch(u, { headers: { accept: 'application/json' }, ...init }))
}

/** A write: needs the token (asked for once, kept in sessionStorage). */
export async function send (method, path, body, params) {
  let t = token.get()
  if (!t) {
    t = window.prompt('This changes the repository. Bearer token ("framehub config" shows apiToken):')
    if (!t) throw new ApiError(401, { code: 'ERR_UNAUTHORIZED', message: 'no token given' })
    token.set(t)
  }
  const res = await fetch(url(path, params), { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` }, body: JSON.stringify(body) })
  if (res.status === 401) token.set(null)
  return await answer(res)
}

/** Every item of a paginated list, up to `max`; `more` tells whether some were left. */
export async function all (path, key, params, max) {
  const items = []
  let cursor
  for (;;) {
    const page = await get(path, { ...params, cursor })
    items.push(...page[key])
    cursor = page.cursor
    if (cursor == null) return { items, more: false }
    if (items.length >= max) return { items, more: true }
  }
}

/** Text of a CID in a DAG-JSON link ({"/": cid}) or a string. */
export const cidOf = (link) => typeof link === 'string' ? link : link?.['/']

/** Looks like a CID (v1 base32 / base36, v0 base58btc)? */
export const looksLikeCid = (text) => /^(b[a-z2-7]{50,}|k[0-9a-z]{40,}|Qm[1-9A-HJ-NP-Za-km-z]{44}|z[1-9A-HJ-NP-Za-km-z]{40,})$/.test(text)
