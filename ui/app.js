// The framehub explorer: hash routes, one view at a time, plain DOM.
import { all, ApiError, cidOf, dropPrefetched, enc, get, looksLikeCid, send } from '/ui/api.js'
import { GRAPH_MAX, historyQuery, parseHash, SESSION_GRAPH_QUERY, SESSION_ROUTES_QUERY } from '/ui/boot.js'
import { drawDag, focusNode, highlightPath, LAYERED_MAX } from '/ui/graph.js'

const main = document.getElementById('main')
/** What the current view must undo when another one opens (event streams, graphs). */
const cleanup = []
/** The commit graph on screen, kept so that clicking a commit only updates the panel. */
let commitGraph = null
/** The session graph on screen. */
let sessionGraph = null
/** The branch the commits view shows (the checked-out one until the user picks another). */
let chosenBranch = null
const MAX_GRAPH = GRAPH_MAX

/** The newest `max` commits under `ref` as a graph (GET /commit-graph: parents, message, time, forks). */
const history = (ref, max) => all('/commit-graph', 'commits', historyQuery(ref, max), max)

// ---------------------------------------------------------------- DOM helpers

/** h('a', { href }, 'text', child, …): an element; attributes starting with "on" are listeners. */
function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (k === 'dataset') Object.assign(el.dataset, v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat(Infinity)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}
const short = (cid) => cid == null ? '' : `${cid.slice(0, 8)}…${cid.slice(-6)}`
const cidLink = (cid, href = `#/cid/${cid}`) => h('a', { href, class: 'cid', title: cid }, short(cid))
const frameLink = (id) => h('a', { href: `#/frame/${enc(id)}` }, id)
const sessionHref = (name, step) => `#/session/${enc(name)}${step ? `?step=${step}` : ''}`
const when = (ms) => typeof ms === 'number' ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''
const clip = (text, n) => text.length > n ? `${text.slice(0, n - 1)}…` : text
const textOf = (v) => typeof v === 'string' ? v : JSON.stringify(v)
const json = (v) => h('pre', { tabindex: 0 }, JSON.stringify(v, null, 2))
const kv = (pairs) => h('dl', { class: 'kv' }, pairs.filter(p => p[1] != null && p[1] !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
const idSegments = (id) => id.split('/').map(enc).join('/')

/**
 * The list beside a graph (`item(x)` an <li> for each of `items`), with `data-items` once it has
 * them all. Beside a large graph it is filled after the graph's first frame (the next animation
 * frame, then a task), `aria-busy` until then: the first frame is the graph's.
 */
function listOf (attrs, items, item) {
  const list = h('ol', attrs)
  const fill = () => {
    list.append(...items.map(item))
    list.dataset.items = String(items.length)
    list.removeAttribute('aria-busy')
  }
  if (items.length <= LAYERED_MAX) fill()
  else {
    list.setAttribute('aria-busy', 'true')
    requestAnimationFrame(() => setTimeout(fill, 0))
  }
  return list
}

/** Replaces the children of `el` (arrays flattened, null and false left out). */
function put (el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter(c => c != null && c !== false))
}

function errorBox (err) {
  const code = err instanceof ApiError ? err.code : 'ERR_EXPLORER'
  return h('p', { class: 'error', role: 'alert', 'data-code': code }, `${code}: ${err.message}`)
}

/** Runs `load` and puts its result (or the error) into `slot` (for the parts of a page that may fail on their own). */
async function fill (slot, load) {
  try {
    put(slot, await load())
  } catch (err) {
    slot.replaceChildren(err instanceof ApiError && err.code === 'ERR_NETWORK_OFFLINE' ? h('p', { class: 'muted' }, 'This node is offline (started without networking).') : errorBox(err))
  }
}

/**
 * Opens the node's event stream for the current view (closed when the view goes): `on(type, data)`
 * for each event of `types`. main[data-live=open] while it is connected.
 */
function liveEvents (types, on, query = {}) {
  const source = new EventSource(`/api/v1/events?${new URLSearchParams({ types: types.join(','), ...query })}`)
  for (const type of types) source.addEventListener(type, (e) => on(type, JSON.parse(e.data), e))
  source.onopen = () => { main.dataset.live = 'open' }
  source.onerror = () => { main.dataset.live = 'reconnecting' }
  cleanup.push(() => { source.close(); delete main.dataset.live })
  return source
}

/** Draws the current view again (new commits or steps), at most every 300 ms. */
let redrawTimer
function redrawSoon () {
  clearTimeout(redrawTimer)
  redrawTimer = setTimeout(() => { commitGraph = null; sessionGraph = null; route() }, 300)
}

// ---------------------------------------------------------------- routing

const views = { frames: framesView, frame: frameView, commits: commitsView, commit: commitView, sessions: sessionsView, session: sessionView, swarm: swarmView, cid: cidView }
const navOf = { frame: 'frames', commit: 'commits', session: 'sessions', cid: null }

async function route () {
  const { view, arg, params } = parseHash()
  const render = views[view]
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.nav === (navOf[view] === undefined ? view : navOf[view])) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  // Clicking another commit (or step) of the graph on screen only changes the side panel.
  if (view === 'commit' && commitGraph?.ids.has(arg) && main.contains(commitGraph.container)) return await showCommit(arg)
  if (view === 'session' && sessionGraph?.name === arg && main.contains(sessionGraph.container)) return showStep(params.step)
  for (const f of cleanup.splice(0)) f()
  commitGraph = null
  sessionGraph = null
  main.dataset.state = 'loading'
  main.dataset.view = view
  main.replaceChildren(h('p', { class: 'muted' }, 'Loading…'))
  try {
    if (render == null) throw new ApiError(404, { code: 'ERR_NOT_FOUND', message: `no view "${view}"` })
    await render(arg, params)
    main.dataset.state = 'ready'
  } catch (err) {
    main.replaceChildren(errorBox(err))
    main.dataset.state = 'error'
  } finally {
    dropPrefetched()
  }
}

function page (title, ...children) {
  document.title = `${title} · framehub explorer`
  put(main, h('h1', {}, title), children)
}

// ---------------------------------------------------------------- frames

async function framesView (_arg, params) {
  const { kind, tag, prefix, q, ref, cursor } = params
  const limit = Math.min(Math.max(Number.parseInt(params.limit ?? '50', 10) || 50, 1), 1000)
  const field = (name, label, value) => h('label', {}, label, h('input', { name, value: value ?? '', type: 'text' }))
  const form = h('form', { class: 'filters', 'aria-label': 'Filter frames' },
    field('q', 'Words', q), field('kind', 'Kind', kind), field('tag', 'Tag', tag), field('prefix', 'Id prefix', prefix), field('ref', 'Ref (branch, commit)', ref),
    h('button', { type: 'submit' }, 'Filter'))
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const p = new URLSearchParams()
    for (const [k, v] of new FormData(form)) if (v !== '') p.set(k, v)
    location.hash = `#/frames?${p}`
  })
  const list = await get('/frames', { kind, tag, prefix, q, ref, cursor, limit })
  const rows = list.frames.map(r => h('tr', { 'data-id': r.id },
    h('td', {}, frameLink(r.id)), h('td', {}, r.frame.kind), h('td', {}, r.frame.title ?? ''),
    h('td', {}, (r.frame.tags ?? []).map(t => h('a', { class: 'tag', href: `#/frames?tag=${enc(t)}` }, t))), h('td', {}, cidLink(r.cid))))
  const base = new URLSearchParams(Object.entries({ kind, tag, prefix, q, ref, limit: params.limit }).filter(([, v]) => v != null && v !== ''))
  const next = new URLSearchParams(base)
  if (list.cursor) next.set('cursor', list.cursor)
  page('Frames', form,
    h('table', { 'data-rows': list.frames.length },
      h('thead', {}, h('tr', {}, ['Id', 'Kind', 'Title', 'Tags', 'CID'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.length > 0 ? rows : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No frame matches.')))),
    h('nav', { class: 'pager', 'aria-label': 'Pages' },
      cursor ? h('a', { href: `#/frames?${base}` }, '« First page') : null,
      list.cursor ? h('a', { href: `#/frames?${next}`, rel: 'next' }, 'Next page »') : null),
    h('p', { class: 'muted' }, `Tree ${short(list.tree)}`))
}

async function frameView (id, params) {
  const record = await get(`/frames/by-id/${idSegments(id)}`, { ref: params.ref })
  await renderFrame(record, `Frame ${id}`, params.ref)
}

async function renderFrame (record, title, ref) {
  const f = record.frame
  const history = h('div', {}, h('p', { class: 'muted' }, 'Loading history…'))
  const links = h('div')
  const attachments = h('div')
  page(title,
    kv([['Id', frameLink(record.id)], ['CID', h('code', {}, record.cid)], ['Kind', f.kind], ['Title', f.title ?? ''], ['Tags', (f.tags ?? []).map(t => h('a', { class: 'tag', href: `#/frames?tag=${enc(t)}` }, t))]]),
    h('h2', {}, 'Attachments'), attachments,
    h('h2', {}, 'Links'), links,
    h('h2', {}, 'History'), history,
    h('h2', {}, 'JSON'), json(f))
  attachments.replaceChildren(...(f.attachments ?? []).length === 0 ? [h('p', { class: 'muted' }, 'None.')] : (f.attachments).map(attachment))
  const outgoing = f.links ?? []
  const to = h('div', { id: 'links-to' })
  const from = h('div', { id: 'links-from' }, h('p', { class: 'muted' }, 'Looking for frames that link here…'))
  put(links, h('h3', {}, 'To other frames'), to, h('h3', {}, 'From other frames'), from)
  // The versions of this frame (from its history): a link from another frame names one of them.
  const versions = get(`/frames/${enc(record.id)}/history`, { ref })
  versions.catch(() => {})
  await Promise.all([
    fill(to, async () => outgoing.length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : h('ul', {}, await Promise.all(outgoing.slice(0, 100).map(async (l) => {
        const cid = cidOf(l.cid)
        const target = await get(`/frames/${cid}`).catch(() => null)
        return h('li', {}, l.rel ? h('span', { class: 'tag' }, l.rel) : null, target ? [frameLink(target.id), ' ', h('span', { class: 'muted' }, target.frame.title ?? '')] : null, ' ', cidLink(cid))
      })))),
    fill(from, async () => {
      const cids = [...new Set([record.cid, ...(await versions.catch(() => ({ versions: [] }))).versions.map(v => v.cid).filter(Boolean)])].slice(0, 64)
      const r = await get('/referrers', { to: cids, ref })
      const list = r.referrers.filter(x => x.id !== record.id)
      return [list.length === 0
        ? h('p', { class: 'muted' }, 'None.')
        : h('ul', { 'data-referrers': list.length }, list.map(x => h('li', {}, x.rel ? h('span', { class: 'tag' }, x.rel) : null, frameLink(x.id), ' → ', cidLink(x.to), x.to === record.cid ? '' : h('span', { class: 'muted' }, ' (an earlier version)')))),
      r.complete ? null : h('p', { class: 'muted' }, `Only the first ${r.scanned} frames were read.`)]
    }),
    fill(history, async () => {
      const hist = await versions
      return h('table', { 'data-versions': hist.versions.length },
        h('thead', {}, h('tr', {}, ['When', 'Commit', 'Message', 'Version', 'Reasoning steps', ''].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, hist.versions.map(v => h('tr', {},
          h('td', {}, when(v.time)), h('td', {}, cidLink(v.commit, `#/commit/${v.commit}`)), h('td', {}, v.message ?? ''),
          h('td', {}, v.cid ? cidLink(v.cid) : h('span', { class: 'muted' }, 'removed')),
          h('td', {}, (v.steps ?? []).map(s => h('div', {}, h('a', { href: sessionHref(s.step.session, s.cid), 'data-step': s.cid }, `${s.step.op}: ${clip(textOf(s.step.content ?? ''), 40)}`), ' ', h('span', { class: 'muted' }, `(${s.step.session})`)))),
          h('td', {}, v.cid && v.cid !== record.cid ? h('button', { type: 'button', onclick: (e) => revert(e.currentTarget, record.id, v.cid) }, 'Revert to this') : null)))))
    })
  ])
}

/** Stages an earlier version of a frame (POST /frames/{id}/revert, with the bearer token); a commit records it. */
async function revert (button, id, to) {
  const note = h('span', { class: 'muted', role: 'status' })
  button.after(' ', note)
  button.disabled = true
  try {
    const branch = (await get('/branches')).current
    await send('POST', `/frames/${enc(id)}/revert`, { to })
    note.textContent = `staged on ${branch}: commit to record it`
    note.dataset.done = 'staged'
  } catch (err) {
    note.replaceChildren(errorBox(err))
    button.disabled = false
  }
}

function attachment (a) {
  const cid = cidOf(a.cid)
  const href = `/api/v1/attachments/${cid}`
  const preview = h('div')
  if (/^image\//.test(a.type)) preview.append(h('img', { src: href, alt: a.name, style: 'max-width: 100%; max-height: 20rem' }))
  else if (/^text\/|json|xml|yaml/.test(a.type)) {
    fetch(href, { headers: { range: 'bytes=0-65535' } }).then(r => r.ok ? r.text() : '').then(t => preview.append(h('pre', { tabindex: 0 }, t))).catch(() => {})
  }
  return h('section', { class: 'panel', 'aria-label': `Attachment ${a.name}` },
    h('a', { href, download: a.name }, `Download ${a.name}`), ' ', h('span', { class: 'muted' }, `${a.type}, ${a.size} bytes`), preview)
}

// ---------------------------------------------------------------- commits

async function commitsView (_arg, params) {
  const max = Number(params.limit) || MAX_GRAPH
  if (params.branch != null) chosenBranch = params.branch
  const named = chosenBranch
  // A branch named in the link: its history is asked for at once, beside the list of branches.
  const early = named != null ? history(named, max) : undefined
  early?.catch(() => {})
  const branches = await get('/branches')
  await drawCommits(branches, named ?? branches.current, null, max, early)
}

async function commitView (cid) {
  const branches = await get('/branches')
  const branch = chosenBranch ?? branches.current
  await drawCommits(branches, branch, cid, MAX_GRAPH)
}

async function drawCommits (branches, branch, selected, max, early) {
  let ref = branch
  // A branch with no commit yet has no history to ask for.
  const empty = branches.branches.some(b => b.name === branch && b.commit == null)
  let log = empty ? { items: [], more: false } : await (early ?? history(ref, max))
  // A commit the branch does not reach: the checked-out branch's history if it does, else the history under the commit.
  if (selected != null && !log.items.some(c => c.cid === selected)) {
    const current = branch !== branches.current && branches.branches.some(b => b.current && b.commit != null) ? await history(branches.current, max).catch(() => null) : null
    if (current?.items.some(c => c.cid === selected)) {
      ref = branch = branches.current
      log = current
    } else {
      ref = selected
      log = await history(ref, max)
    }
  }
  const commits = log.items
  performance.mark('view:data')
  const ids = new Set(commits.map(c => c.cid))
  const children = new Map()
  for (const c of commits) for (const p of c.parents) children.set(p, (children.get(p) ?? 0) + 1)
  const heads = new Map()
  for (const b of branches.branches) if (b.commit) heads.set(b.commit, [...(heads.get(b.commit) ?? []), b.name])
  const kinds = (c) => {
    const k = []
    if (c.parents.length > 1) k.push('merge')
    if ((children.get(c.cid) ?? 0) > 1) k.push('split')
    if (c.forks > 0) k.push('forked')
    if (heads.has(c.cid)) k.push('head')
    return k
  }
  const nodes = commits.map(c => ({ id: c.cid, label: `${heads.has(c.cid) ? `[${heads.get(c.cid).join(', ')}] ` : ''}${clip(c.message, 40)}`, classes: kinds(c) }))
  const edges = commits.flatMap(c => c.parents.filter(p => ids.has(p)).map(p => ({ source: c.cid, target: p })))

  const picker = h('select', { id: 'branch', 'aria-label': 'Branch' },
    ref !== branch ? h('option', { value: '', selected: true, disabled: true }, `history of ${short(ref)}`) : null,
    branches.branches.map(b => h('option', { value: b.name, selected: ref === branch && b.name === branch }, b.name + (b.current ? ' (checked out)' : ''))))
  picker.addEventListener('change', () => { location.hash = `#/commits?branch=${enc(picker.value)}` })
  const container = h('div', { class: 'graph', id: 'commit-graph', role: 'group', 'aria-roledescription': 'graph', 'aria-label': `Commit graph of ${ref}: ${nodes.length} commits, newest at the top (arrow keys move, Enter opens)`, 'data-merges': commits.filter(c => c.parents.length > 1).length, 'data-forked': commits.filter(c => c.forks > 0).length })
  const panel = h('section', { class: 'panel', id: 'commit-panel', 'aria-label': 'Commit' }, h('p', { class: 'muted' }, 'Select a commit in the graph or the list.'))
  const list = listOf({ class: 'list', 'aria-label': 'Commits, newest first' }, commits, c => h('li', {},
    h('a', { href: `#/commit/${c.cid}`, 'data-cid': c.cid }, c.message || short(c.cid)), ' ',
    kinds(c).filter(k => k !== 'head').map(k => h('span', { class: 'tag' }, { merge: 'merge', split: 'fork point', forked: 'kept forks' }[k])),
    heads.has(c.cid) ? h('span', { class: 'tag' }, heads.get(c.cid).join(', ')) : null))
  const legend = h('div', { class: 'legend' },
    h('span', {}, '◆ merge'), h('span', {}, '⬢ fork point (several children)'), h('span', {}, h('span', { class: 'swatch', style: 'border: 3px solid #d9480f' }), 'merge that kept forks'), h('span', {}, '[name] branch head'))
  page(`Commits of ${ref === branch ? branch : short(ref)}`,
    h('div', { class: 'filters' }, h('label', { for: 'branch' }, 'Branch', picker),
      log.more ? h('a', { href: `#/commits?branch=${enc(branch)}&limit=${max + MAX_GRAPH}` }, `Showing the newest ${commits.length}: load ${MAX_GRAPH} more`) : null),
    legend,
    commits.length === 0 ? h('p', { class: 'muted' }, `${branch} has no commit yet.`) : h('div', { class: 'split' }, h('div', {}, container, list), panel),
    h('section', { 'aria-label': 'Branches' }, h('h2', {}, 'Branches'),
      h('table', { id: 'branches', 'data-rows': branches.branches.length },
        h('thead', {}, h('tr', {}, ['Branch', 'Head', ''].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, branches.branches.map(b => h('tr', {},
          h('td', {}, h('a', { href: `#/commits?branch=${enc(b.name)}` }, b.name)),
          h('td', {}, b.commit ? cidLink(b.commit, `#/commit/${b.commit}`) : h('span', { class: 'muted' }, 'no commit yet')),
          h('td', {}, b.current ? 'checked out' : '')))))),
    remoteRefs())
  performance.mark('view:page')
  if (commits.length === 0) return
  const cy = drawDag(container, { nodes, edges, unit: ['commit', 'commits'], onSelect: (id) => { location.hash = `#/commit/${id}` } })
  commitGraph = { ids, container, cy, panel }
  cleanup.push(() => cy.destroy())
  // Live: a commit, merge or reset of the branch on screen redraws it.
  if (ref === branch) liveEvents(['ref:move'], (_type, d) => { if (d.ref === branch || d.ref === `refs/heads/${branch}`) redrawSoon() })
  if (selected != null) await showCommit(selected)
}

/** Whether this node is on the network (asked once: a daemon does not change that while it runs). */
let status
const online = async () => (status ??= get('/network/status').catch((err) => { status = undefined; throw err })).then(s => s.online)

function remotesTable (remotes) {
  return remotes.length === 0
    ? h('p', { class: 'muted' }, 'No remote heads yet.')
    : h('table', { 'data-rows': remotes.length }, h('thead', {}, h('tr', {}, ['Peer', 'Ref', 'Head'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, remotes.map(r => h('tr', {}, h('td', {}, h('code', {}, short(r.peer))), h('td', {}, r.ref), h('td', {}, cidLink(r.head, `#/commit/${r.head}`))))))
}

function remoteRefs () {
  const slot = h('div', {}, h('p', { class: 'muted' }, 'Loading…'))
  fill(slot, async () => {
    if (!await online()) return h('p', { class: 'muted' }, 'This node is offline: no remote heads.')
    return remotesTable((await get('/remotes')).remotes)
  })
  return h('section', { 'aria-label': 'Remote refs' }, h('h2', {}, 'Remote refs'), slot)
}

async function showCommit (cid) {
  const { cy, panel } = commitGraph
  focusNode(cy, cid)
  // The graph has only what drawing needs; the whole commit is asked for when it is opened.
  let c
  try {
    c = (await get(`/commits/${cid}`)).value
  } catch (err) {
    put(panel, errorBox(err))
    return
  }
  if (commitGraph?.panel !== panel || !main.contains(panel)) return
  const parents = (c.parents ?? []).map(cidOf)
  const diff = h('div', { id: 'diff' }, h('p', { class: 'muted' }, 'Loading the diff…'))
  let against = parents[0]
  const chooser = parents.length > 1
    ? h('label', {}, 'Diff against parent ', h('select', { onchange: (e) => { against = e.target.value; fill(diff, () => diffTable(against, cid)) } }, parents.map((p, i) => h('option', { value: p }, `${i + 1}: ${short(p)}`))))
    : null
  put(panel,
    h('h2', {}, c.message ?? short(cid)),
    kv([['CID', h('code', {}, cid)], ['Author', h('code', {}, c.author ?? '')], ['Time', when(c.time)], ['Tree', cidLink(cidOf(c.tree))],
      ['Parents', parents.length === 0 ? 'none (first commit)' : parents.map(p => [cidLink(p, `#/commit/${p}`), ' '])],
      ['Reasoning', (c.sessions ?? []).length > 0 ? c.sessions.map(s => [cidLink(cidOf(s)), ' ']) : null]]),
    (c.forks ?? []).length > 0
      ? [h('h2', {}, 'Forks kept by this merge'), h('ul', { id: 'forks' }, c.forks.map(f => h('li', {}, frameLink(f.id), ': ours ', cidLink(cidOf(f.ours)), ', theirs ', cidLink(cidOf(f.theirs)))))]
      : null,
    h('h2', {}, 'Changes'), chooser, diff)
  panel.dataset.cid = cid
  await fill(diff, () => diffTable(against, cid, cidOf(c.tree)))
}

async function diffTable (from, to, tree) {
  let rows
  if (from == null) {
    // The first commit: every frame of its tree is new.
    const { items } = await all('/frames', 'frames', { ref: tree ?? to, limit: 1000 }, 5000)
    rows = items.map(r => ({ change: 'added', id: r.id, before: null, after: r.cid }))
  } else {
    const d = await get('/diff', { from, to })
    rows = [...d.added.map(r => ({ change: 'added', ...r })), ...d.removed.map(r => ({ change: 'removed', ...r })), ...d.changed.map(r => ({ change: 'changed', ...r }))]
  }
  if (rows.length === 0) return h('p', { class: 'muted' }, 'No frame changed.')
  const side = h('div', { id: 'side-by-side' })
  return [h('table', { 'data-rows': rows.length },
    h('thead', {}, h('tr', {}, ['Change', 'Frame', 'Before', 'After', ''].map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map(r => h('tr', { 'data-change': r.change, 'data-id': r.id },
      h('td', {}, r.change), h('td', {}, frameLink(r.id)), h('td', {}, r.before ? cidLink(r.before) : ''), h('td', {}, r.after ? cidLink(r.after) : ''),
      h('td', {}, r.change === 'changed' ? h('button', { type: 'button', onclick: () => fill(side, () => sideBySide(r.before, r.after)) }, 'Compare') : null))))), side]
}

async function sideBySide (before, after) {
  const [a, b] = await Promise.all([get(`/frames/${before}`), get(`/frames/${after}`)])
  const la = JSON.stringify(a.frame, null, 2).split('\n')
  const lb = JSON.stringify(b.frame, null, 2).split('\n')
  const sa = new Set(la)
  const sb = new Set(lb)
  const column = (lines, other, title) => h('div', {}, h('h3', {}, title), h('pre', { tabindex: 0 }, lines.map(l => other.has(l) ? `${l}\n` : h('span', { class: 'diffline' }, `${l}\n`))))
  return h('div', { class: 'side' }, column(la, sb, `Before ${short(before)}`), column(lb, sa, `After ${short(after)}`))
}

// ---------------------------------------------------------------- sessions

async function sessionsView () {
  const { items, more } = await all('/sessions', 'sessions', { limit: 1000 }, 5000)
  page('Reasoning sessions',
    items.length === 0
      ? h('p', { class: 'muted' }, 'No session yet.')
      : h('table', { 'data-rows': items.length },
        h('thead', {}, h('tr', {}, ['Session', 'Open routes (heads)'].map(t => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, items.map(s => h('tr', {}, h('td', {}, h('a', { href: sessionHref(s.session) }, s.session)), h('td', {}, s.heads.length))))),
    more ? h('p', { class: 'muted' }, `Showing the first ${items.length}.`) : null)
}

const PALETTE = ['#6b8fd6', '#2f9e44', '#e8590c', '#ae3ec9', '#1098ad', '#f08c00', '#c2255c', '#5c940d']

async function sessionView (name, params) {
  const base = `/sessions/${enc(name)}`
  // The graph view of the steps (parents, op, writer, a short text): the whole step is asked for when it is opened.
  const [{ items: steps, more }, { routes }] = await Promise.all([all(`${base}/graph`, 'steps', SESSION_GRAPH_QUERY, MAX_GRAPH), get(`${base}/routes`, SESSION_ROUTES_QUERY)])
  performance.mark('view:data')
  const byCid = new Map(steps.map(s => [s.cid, s]))
  const hasChild = new Set(steps.flatMap(s => s.parents))
  const writers = [...new Set(steps.map(s => s.node))]
  const colorOf = new Map(writers.map((w, i) => [w, PALETTE[i % PALETTE.length]]))
  const nodes = steps.map(s => ({ id: s.cid, label: `${s.op}: ${clip(s.text, 32)}`, color: colorOf.get(s.node), classes: [s.parents.length === 0 ? 'root' : null, hasChild.has(s.cid) ? null : 'head'].filter(Boolean) }))
  const edges = steps.flatMap(s => s.parents.filter(p => byCid.has(p)).map(p => ({ source: p, target: s.cid })))
  const container = h('div', { class: 'graph', id: 'session-graph', role: 'group', 'aria-roledescription': 'graph', 'aria-label': `Step graph of ${name}: ${nodes.length} steps, roots at the top (arrow keys move, Enter opens)`, 'data-routes': routes.length })
  const stepPanel = h('div', { id: 'step' }, h('p', { class: 'muted' }, 'Select a step.'))
  const routeButtons = routes.map((r, i) => {
    const head = byCid.get(r.at(-1))
    return h('button', { type: 'button', 'aria-pressed': 'false', 'data-route': i, onclick: (e) => toggleRoute(e.currentTarget, r) },
      `Route ${i + 1}: ${r.length} steps → ${head ? `${head.op}: ${clip(head.text, 40)}` : short(r.at(-1))}`)
  })
  page(`Session ${name}`,
    h('div', { class: 'legend', 'aria-label': 'Nodes that wrote steps' }, writers.map(w => h('span', {}, h('span', { class: 'swatch', style: `background:${colorOf.get(w)}` }), h('code', {}, short(w))))),
    more ? h('p', { class: 'muted' }, `Showing the first ${steps.length} steps.`) : null,
    h('div', { class: 'split' },
      h('div', {}, container, listOf({ class: 'list', 'aria-label': 'Steps in causal order' }, steps, s => h('li', {}, h('a', { href: sessionHref(name, s.cid), 'data-cid': s.cid }, `${s.op}: ${clip(s.text, 60)}`)))),
      h('section', { class: 'panel', 'aria-label': 'Routes and steps' }, h('h2', {}, `Routes (${routes.length})`), h('div', { class: 'routes' }, routeButtons), h('h2', {}, 'Step'), stepPanel)))
  performance.mark('view:page')
  const cy = drawDag(container, { nodes, edges, unit: ['step', 'steps'], onSelect: (id) => { location.hash = sessionHref(name, id) } })
  sessionGraph = { name, container, cy, byCid, stepPanel }
  cleanup.push(() => cy.destroy())
  // Live: a step appended to this session (here or synced from a peer) redraws it.
  if (!more) liveEvents(['step:append'], () => redrawSoon(), { session: name })
  if (params.step) await showStep(params.step)
}

function toggleRoute (button, route) {
  const { cy } = sessionGraph
  const on = button.getAttribute('aria-pressed') !== 'true'
  for (const b of button.parentElement.querySelectorAll('button')) b.setAttribute('aria-pressed', 'false')
  if (on) button.setAttribute('aria-pressed', 'true')
  // A collapsed run of steps on the route is highlighted whole (and its members once expanded).
  highlightPath(cy, on ? route : null)
}

async function showStep (cid) {
  if (cid == null) return
  const { cy, byCid, stepPanel, name } = sessionGraph
  if (!byCid.has(cid)) { stepPanel.replaceChildren(h('p', { class: 'error' }, `No step ${cid} in ${name}.`)); return }
  focusNode(cy, cid)
  let s
  try {
    s = (await get(`/commits/${cid}`)).value
  } catch (err) {
    put(stepPanel, errorBox(err))
    return
  }
  if (sessionGraph?.stepPanel !== stepPanel) return
  const verdict = h('span', { id: 'signature' }, s.sig ? 'signed' : 'unsigned')
  stepPanel.dataset.cid = cid
  put(stepPanel, kv([
    ['CID', h('code', {}, cid)], ['Op', s.op], ['Node', h('code', {}, s.node ?? '')], ['Time', when(s.time)],
    ['Parents', (s.parents ?? []).map(p => [cidLink(cidOf(p), sessionHref(name, cidOf(p))), ' '])],
    ['Inputs', (s.inputs ?? []).map(l => [cidLink(cidOf(l)), ' '])], ['Outputs', (s.outputs ?? []).map(l => [cidLink(cidOf(l)), ' '])],
    ['Signature', [verdict, ' ', h('button', {
      type: 'button',
      onclick: async () => {
        verdict.textContent = 'checking…'
        try {
          const r = await get('/verify', { ref: cid })
          verdict.textContent = r.ok ? `valid (${r.blocks} blocks checked)` : `problems: ${r.problems.map(p => p.message ?? p.code ?? JSON.stringify(p)).join('; ')}`
        } catch (err) { verdict.textContent = err.message }
      }
    }, 'Verify')]]
  ]), h('h3', {}, 'Content'), typeof s.content === 'string' ? h('pre', { tabindex: 0 }, s.content) : json(s.content))
}

// ---------------------------------------------------------------- swarm

async function swarmView () {
  const me = h('div'); const peers = h('div'); const remotes = h('div'); const consensus = h('div'); const fingerprints = h('div')
  const events = h('ol', { class: 'list events', id: 'events', 'aria-label': 'Events, newest first' })
  const live = h('span', { id: 'live', class: 'muted' }, 'connecting…')
  page('Swarm',
    h('h2', {}, 'This node'), me, h('h2', {}, 'Peers'), peers, h('h2', {}, 'Consensus'), consensus,
    h('h2', {}, 'Remote heads'), remotes, h('h2', {}, 'Peer fingerprints'), fingerprints,
    h('h2', {}, 'Live events ', live), events)
  const table = (cols, rows) => h('table', { 'data-rows': rows.length }, h('thead', {}, h('tr', {}, cols.map(c => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows.map(r => h('tr', {}, r.map(c => h('td', {}, c))))))
  const loadConsensus = () => fill(consensus, async () => {
    const status = await get('/consensus')
    const head = kv([['Convergence', status.convergence.toFixed(3)], ['Conflict rate', status.conflictRate.toFixed(3)], ['Nodes with proposals', status.peers]])
    if (status.branches.length === 0) return [head, h('p', { class: 'muted' }, 'No shared branch has a proposal yet (publish a shared/* branch).')]
    const decisions = await Promise.all(status.branches.map(b => get(`/consensus/${idSegments(b.branch)}`)))
    return [head, decisions.map(d => h('section', { class: 'panel', 'data-branch': d.branch, 'aria-label': `Consensus of ${d.branch}` },
      h('h3', {}, d.branch),
      kv([['Canonical head', cidLink(d.head, `#/commit/${d.head}`)], ['Decision record', cidLink(d.decision)], ['Convergence', d.convergence.toFixed(3)], ['Conflict rate', d.conflictRate.toFixed(3)]]),
      h('h4', {}, 'Candidates'),
      table(['Commit', 'Node', 'Height', 'Score', 'Terms (vote: weight × conv, contained)'], d.candidates.map(c => [
        [cidLink(c.commit, `#/commit/${c.commit}`), c.commit === d.head ? h('span', { class: 'tag' }, 'canonical') : null], h('code', {}, short(c.node)), c.height, c.score.toFixed(3),
        c.terms.map(t => h('div', {}, short(t.vote), `: ${t.weight} × ${t.conv.toFixed(3)}, ${t.contained.toFixed(2)}`))])),
      h('h4', {}, 'Proposals'), table(['Node', 'Head', 'Weight'], d.proposals.map(p => [h('code', {}, short(p.node)), cidLink(p.head, `#/commit/${p.head}`), p.weight])),
      h('h4', {}, `Forks (${d.forks.length})`), d.forks.length === 0 ? h('p', { class: 'muted' }, 'None.') : table(['Frame', 'Ours', 'Theirs'], d.forks.map(f => [frameLink(f.id), cidLink(f.ours), cidLink(f.theirs)]))))]
  })
  const loadRemotes = () => fill(remotes, async () => remotesTable((await get('/remotes')).remotes))
  const loadPeers = () => fill(peers, async () => {
    const { peers: list } = await get('/peers')
    return list.length === 0 ? h('p', { class: 'muted' }, 'No peer connected.') : table(['Peer', 'Chain', 'Latency', 'Addresses'], list.map(p => [h('code', {}, p.peer), p.chain ? cidLink(p.chain) : '', p.latencyMs != null ? `${p.latencyMs} ms` : '', p.addrs.join(' ')]))
  })
  const on = await online()
  const offline = async () => h('p', { class: 'muted' }, 'This node is offline (started without networking).')
  await fill(me, async () => {
    if (!on) return [kv([['Peer id', h('code', {}, (await status).peerId)]]), await offline()]
    const id = await get('/id')
    return kv([['Peer id', h('code', {}, id.peerId)], ['Network', id.network], ['Chain', h('code', {}, id.chain)], ['Addresses', id.addresses.join(' ')]])
  })
  await Promise.all([
    on ? loadPeers() : fill(peers, offline),
    on ? loadRemotes() : fill(remotes, offline),
    loadConsensus(),
    fill(fingerprints, async () => {
      const { peers: list } = await get('/peers/fingerprints')
      return list.length === 0 ? h('p', { class: 'muted' }, 'No peer seen yet.') : json(list)
    })
  ])
  // Live: every event of the node is listed; those that can change a decision reload it.
  let timer
  const refresh = () => { clearTimeout(timer); timer = setTimeout(() => { loadConsensus(); if (on) { loadRemotes(); loadPeers() } }, 300) }
  const source = liveEvents(['frame:put', 'frame:remove', 'frame:import', 'commit', 'ref:move', 'checkout', 'step:append', 'snapshot:import', 'pin:status', 'sync:progress', 'sync:done', 'publish'], (type, data) => {
    events.prepend(h('li', { 'data-type': type }, h('code', {}, type), ' ', when(data.time), ' ', clip(JSON.stringify(data), 160)))
    while (events.children.length > 100) events.lastChild.remove()
    if (['commit', 'ref:move', 'publish', 'sync:done'].includes(type)) refresh()
  })
  source.addEventListener('open', () => { live.textContent = '(live)' })
  source.addEventListener('error', () => { live.textContent = '(reconnecting…)' })
  cleanup.push(() => clearTimeout(timer))
}

// ---------------------------------------------------------------- any CID

async function cidView (cid) {
  const shown = await get(`/commits/${cid}`)
  if (shown.type === 'commit') { location.replace(`#/commit/${cid}`); return }
  if (shown.type === 'trace-step') { location.replace(sessionHref(shown.value.session, cid)); return }
  if (shown.type === 'frame') { await renderFrame(await get(`/frames/${cid}`), `Frame version ${short(cid)}`); return }
  page(`${shown.type === 'tree' ? 'Tree node' : 'Block'} ${short(cid)}`, kv([['CID', h('code', {}, cid)], ['Type', shown.type]]), h('h2', {}, 'Decoded'), json(shown.value))
}

// ---------------------------------------------------------------- search and keys

document.getElementById('search').addEventListener('submit', (e) => {
  e.preventDefault()
  const text = e.target.q.value.trim()
  if (text === '') return
  location.hash = looksLikeCid(text) ? `#/cid/${text}` : `#/frames?q=${enc(text)}`
})
document.addEventListener('keydown', (e) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName ?? '')
  if (e.key === '/' && !typing) { e.preventDefault(); document.getElementById('search-input').focus() }
})
window.addEventListener('hashchange', () => { route() })
route()
