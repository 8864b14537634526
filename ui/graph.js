// DAG drawing: Cytoscape.js with the dagre layered layout, both served from the package.
import cytoscape from '/ui/vendor/cytoscape.mjs'
import dagre from '/ui/vendor/cytoscape-dagre.mjs'
import { graphStratify, grid } from '/ui/vendor/d3-dag.mjs'
import { linearRuns, visibleGraph } from '/ui/collapse.js'

cytoscape.use(dagre)

/**
 * A layout that keeps the positions the elements were created with (d3-dag's lanes, computed
 * before Cytoscape starts). Cytoscape runs a layout at start whatever the options; "preset" would
 * set every position again, one event per node.
 */
function KeepLayout (options) { this.options = options }
KeepLayout.prototype.run = function () {
  this.emit('layoutstart')
  this.emit('layoutready')
  this.emit('layoutstop')
  return this
}
KeepLayout.prototype.stop = function () { return this }
cytoscape('layout', 'framehub-keep', KeepLayout)

/**
 * Cytoscape styles a new element by applying its ~150 properties (its defaults included) one at a
 * time, and after each one dirties the element's caches and those of its edges and emits a
 * "bounds" event (Style.checkTriggers in 3.34): on a fresh graph of 2,000 elements that is most of
 * the cost of the first frame, and all of it is redundant, since a new element has no cache yet and
 * is already queued for its first draw. So the triggers are skipped for an element's first styling
 * only; any later change (a class added, a route highlighted) goes through them as before.
 * Cytoscape is pinned to an exact version; if the method is not there, nothing changes.
 */
function quietFirstStyle (cy) {
  const style = cy.style()
  const checkTriggers = style?.checkTriggers
  if (typeof checkTriggers !== 'function') return
  style.checkTriggers = function (ele, ...rest) {
    if (ele?._private?.appliedInitStyle !== true) return
    return checkTriggers.call(this, ele, ...rest)
  }
}

/**
 * Before each frame, Cytoscape's canvas renderer invalidates the cached textures of every element
 * whose style or bounds changed (its one onUpdateEleCalcs function in 3.34, for the canvas
 * renderer): for each of 2,000 new elements it computes the keys of four texture caches to find
 * nothing to invalidate, since nothing has been drawn yet. That first pass is skipped; every
 * later one runs as before. If the renderer does not look as expected, nothing changes.
 */
function quietFirstInvalidation (cy) {
  const fns = cy.renderer()?.onUpdateEleCalcsFns
  if (!Array.isArray(fns) || fns.length !== 1 || typeof fns[0] !== 'function') return
  const invalidate = fns[0]
  let first = true
  fns[0] = function (willDraw, eles) {
    if (first && willDraw) {
      first = false
      for (const ele of eles) ele._private.oldBackgroundTimestamp = ele._private.backgroundTimestamp
      return
    }
    return invalidate.call(this, willDraw, eles)
  }
}

/**
 * The first time the renderer draws an element it computes the element's bounding box, and
 * Cytoscape (3.34, Collection.dirtyBoundingBoxCache) then announces a "bounds" change for it as if
 * the box had moved: the renderer queues every element again and, in the same frame, recomputes
 * the rendered style of all 2,000 and invalidates their new textures. An element whose box was
 * never computed (or already dropped, which announced it then) has nothing to announce: for the
 * large graphs drawn here, that announcement is skipped; any other one (a move, a restyle) is made
 * as before. If the method is not there, nothing changes.
 */
const quietBounds = new WeakSet()
let boundsPatched = false
function quietFirstBounds (cy) {
  quietBounds.add(cy)
  if (boundsPatched) return
  const proto = Object.getPrototypeOf(cy.collection())
  const dirty = proto?.dirtyBoundingBoxCache
  if (typeof dirty !== 'function') return
  boundsPatched = true
  proto.dirtyBoundingBoxCache = function (...args) {
    const p = this.length === 1 ? this[0]._private : undefined
    if (p == null || p.bbCache != null || !quietBounds.has(p.cy)) return dirty.apply(this, args)
    p.bbCachePosKey = null
    p.bodyBounds = null
    p.overlayBounds = null
    for (const k of ['all', 'source', 'target', 'main', 'sourceRot', 'targetRot', 'mainRot']) p.labelBounds[k] = null
    for (const k of ['source', 'target', 'mid-source', 'mid-target']) p.arrowBounds[k] = null
    return this
  }
}

/** The marks both sizes of graph share: kinds of node, a highlighted route, the selection. */
const marks = [
  { selector: 'node.merge', style: { shape: 'diamond', width: 18, height: 18, 'background-color': '#8e5bd6' } },
  { selector: 'node.split', style: { shape: 'hexagon', width: 18, height: 18 } },
  { selector: 'node.forked', style: { 'border-width': 4, 'border-color': '#d9480f' } },
  { selector: 'node.head', style: { 'font-weight': 'bold' } },
  { selector: 'node.root', style: { shape: 'round-rectangle' } },
  { selector: 'node.route', style: { 'border-width': 4, 'border-color': '#d9480f' } },
  { selector: 'edge.route', style: { width: 4, 'line-color': '#d9480f', 'target-arrow-color': '#d9480f' } },
  { selector: 'node:selected', style: { 'overlay-color': '#f2a900', 'overlay-opacity': 0.35, 'overlay-padding': 6 } }
]

const small = [
  { selector: 'node', style: { 'background-color': '#6b8fd6', label: 'data(label)', 'font-size': 10, 'text-valign': 'center', 'text-halign': 'right', 'text-margin-x': 6, width: 14, height: 14, 'border-width': 1, 'border-color': '#1d2330', 'min-zoomed-font-size': 6 } },
  { selector: 'edge', style: { width: 1.5, 'line-color': '#9aa4b5', 'target-arrow-color': '#9aa4b5', 'target-arrow-shape': 'triangle', 'arrow-scale': 0.7, 'curve-style': 'bezier' } },
  ...marks
]

/**
 * Large graphs: the cheapest marks Cytoscape draws: straight haystack edges, no arrows (the lanes
 * run downwards), no node borders but on marked nodes, and a text label only on the nodes in view
 * (class `labelled`, see labelsInView): measuring and placing 1,000 labels is a large part of
 * Cytoscape's work on every element before its first frame, for labels nobody sees until they
 * scroll. Nothing else is per element: no data mappers (a lane's label offset and a writer's
 * colour are classes, see classStyles).
 */
const big = [
  { selector: 'node', style: { 'background-color': '#6b8fd6', 'font-size': 10, 'text-valign': 'center', 'text-halign': 'right', width: 14, height: 14, 'border-width': 0, 'border-color': '#1d2330', 'min-zoomed-font-size': 6 } },
  { selector: 'node.labelled', style: { label: 'data(label)' } },
  { selector: 'edge', style: { width: 1.5, 'line-color': '#9aa4b5', 'curve-style': 'haystack', 'haystack-radius': 0 } },
  { selector: 'node.run', style: { shape: 'round-rectangle', width: 12, height: 22, 'background-color': '#d5dae3', 'border-width': 2, 'border-style': 'dashed', 'border-color': '#5b6475', color: '#5b6475' } },
  ...marks,
  { selector: 'node.merge, node.forked, node.route', style: { 'border-width': 3 } }
]

/** Below this zoom Cytoscape draws no label anyway (font-size 10, min-zoomed-font-size 6). */
const LABEL_ZOOM = 0.6
/** Nodes this far (model units) above or below the view are labelled too, for a short scroll. */
const LABEL_MARGIN = 200

/**
 * One class per distinct value of a per-node style (a writer's colour, a lane's label offset)
 * instead of a data mapper, which Cytoscape evaluates for every element. Returns the class of
 * each value and the rules.
 */
function classStyles (prefix, values, property) {
  const cls = new Map()
  const rules = []
  for (const v of values) {
    if (v == null || cls.has(v)) continue
    const name = `${prefix}${cls.size}`
    cls.set(v, name)
    rules.push({ selector: `node.${name}`, style: { [property]: v } })
  }
  return { cls, rules }
}

/** Past this many nodes the layered layout (dagre: crossing minimisation) costs seconds: lanes instead. */
export const LAYERED_MAX = 300

/**
 * The lane layout of d3-dag (`grid`): one row per node in the given order (a topological one:
 * sources first), each node in a lane, edges run down their lane without crossing nodes, as in
 * `git log --graph`. Linear in the size of the graph. Positions by id, and the width of the lanes.
 */
function lanes (nodes, edges) {
  const parents = new Map(nodes.map(n => [n.id, []]))
  for (const e of edges) parents.get(e.target)?.push(e.source)
  const order = new Map(nodes.map((n, i) => [n.id, i]))
  const dag = graphStratify()(nodes.map(n => ({ id: n.id, parentIds: parents.get(n.id) })))
  const { width } = grid().rank(node => order.get(node.data.id)).nodeSize([16, 16]).gap([8, 10])(dag)
  const at = new Map()
  for (const node of dag.nodes()) at.set(node.data.id, { x: node.x, y: node.y })
  return { at, width }
}

/**
 * A large graph is drawn with its linear runs collapsed (see collapse.js): a chain of commits
 * with one parent and one child each, or of steps each continued by one step, past the first
 * KEEP_FIRST rows and at least MIN_RUN long, is one node until it is expanded (a click, Enter, or
 * the *Show all* button). Merges, fork points, branch heads, roots and heads of routes are never
 * in a run. A 1,000-commit branch opens with about a tenth of its nodes drawn: Cytoscape's work
 * before the first frame (creating, styling and measuring each element) is that much smaller.
 */
export const KEEP_FIRST = 40
export const MIN_RUN = 4

/**
 * Keeps the `labelled` class on the nodes in view (and LABEL_MARGIN around it) of a large graph,
 * `labelled` being the set that has it: after the view moves (a scroll, a zoom, a node centred by
 * the keyboard) and settles, the nodes that came into view get their label and those that left
 * lose it. Zoomed out past LABEL_ZOOM, where labels are too small to be drawn, none has one.
 * `state` holds what is drawn (`nodes`) and where (`at`); returns the update, to run at once
 * after the graph changed.
 */
function labelsInView (cy, state, labelled) {
  let timer
  const update = () => {
    clearTimeout(timer)
    timer = undefined
    if (cy.destroyed()) return
    const want = new Set()
    if (cy.zoom() >= LABEL_ZOOM) {
      const { y1, y2 } = cy.extent()
      for (const n of state.nodes) {
        const y = state.at.get(n.id).y
        if (y >= y1 - LABEL_MARGIN && y <= y2 + LABEL_MARGIN) want.add(n.id)
      }
    }
    cy.batch(() => {
      for (const id of labelled) if (!want.has(id)) { cy.getElementById(id).removeClass('labelled'); labelled.delete(id) }
      for (const id of want) if (!labelled.has(id)) { cy.getElementById(id).addClass('labelled'); labelled.add(id) }
    })
  }
  cy.on('viewport', () => {
    clearTimeout(timer)
    timer = setTimeout(update, 100)
  })
  cy.on('destroy', () => clearTimeout(timer))
  return update
}

/** The graph behind each Cytoscape instance drawn here: its runs, what is expanded, the route shown. */
const graphs = new WeakMap()

/**
 * Draws `nodes` ({ id, label, classes, color }) and `edges` ({ source, target }) in `container`,
 * top to bottom; `unit` names a node ([one, many], for collapsed runs). `onSelect(id)` is called
 * on a tap on a node (a tap on a collapsed run expands it). The container carries the counts of
 * what is drawn (data-nodes, data-edges), of the whole graph (data-all-nodes, data-all-edges),
 * the collapsed runs (data-collapsed) and the time the layout took (data-render-ms).
 */
export function drawDag (container, { nodes, edges, onSelect, unit = ['node', 'nodes'] }) {
  const t0 = performance.now()
  performance.mark('graph:start')
  const isBig = nodes.length > LAYERED_MAX
  const runs = isBig
    ? linearRuns(nodes, edges, { keepFirst: KEEP_FIRST, minRun: MIN_RUN, marked: n => (n.classes ?? []).length > 0 })
    : { runs: [], runOf: new Map() }
  const runById = new Map(runs.runs.map(r => [r.id, r]))
  const expanded = new Set()
  /** What is drawn ({ nodes, edges }, collapsed runs as one node) and, on a large graph, where (`at`, `width`). */
  const state = { ...visibleGraph(nodes, edges, runs, expanded), at: new Map(), width: 0 }
  const place = () => { if (isBig) Object.assign(state, lanes(state.nodes, state.edges)) }
  place()
  const allEdges = visibleGraph(nodes, edges, { runs: [], runOf: new Map() }).edges.length
  const byId = new Map(nodes.map(n => [n.id, n]))
  const colours = classStyles('fh-c', nodes.map(n => n.color), 'background-color')
  // Lanes: every label starts right of the last lane, in one column (a class per offset; more
  // are added if an expanded run widens the lanes).
  const dx = (p) => state.width - p.x + 6
  const offsets = classStyles('fh-dx', isBig ? [...state.at.values()].map(dx) : [], 'text-margin-x')
  const offsetOf = new Map()
  // A large graph opens at its top (the newest commits, the first steps) at zoom 1: the nodes in
  // that first view get their label from the start.
  const view = isBig ? { x: 24, y: 24, height: container.clientHeight } : null
  const labelled = new Set()
  if (view != null) {
    for (const n of state.nodes) {
      const y = state.at.get(n.id).y
      if (y >= -view.y - LABEL_MARGIN && y <= view.height - view.y + LABEL_MARGIN) labelled.add(n.id)
    }
  }
  const many = (k) => `${k} ${k === 1 ? unit[0] : unit[1]}`
  const labelOf = (n) => n.run != null ? `+ ${many(n.run.length)}` : n.label
  const classesOf = (n) => {
    const p = state.at.get(n.id)
    const offset = p == null ? null : offsets.cls.get(dx(p))
    if (offset != null) offsetOf.set(n.id, offset)
    const extra = [colours.cls.get(n.color), offset, labelled.has(n.id) ? 'labelled' : null].filter(c => c != null)
    const own = n.run != null ? ['run'] : n.classes ?? []
    return extra.length === 0 ? own : [...own, ...extra]
  }
  const nodeElement = (n) => {
    const p = state.at.get(n.id)
    return { group: 'nodes', data: { id: n.id, label: labelOf(n), ...(n.color ? { color: n.color } : {}) }, classes: classesOf(n), ...(p ? { position: { ...p } } : {}) }
  }
  const edgeElement = (e) => ({ group: 'edges', data: { id: e.id, source: e.source, target: e.target } })
  const cy = cytoscape({
    container,
    elements: [...state.nodes.map(nodeElement), ...state.edges.map(edgeElement)],
    style: [...(isBig ? big : small), ...colours.rules, ...offsets.rules],
    layout: isBig ? { name: 'framehub-keep' } : { name: 'dagre', rankDir: 'TB', nodeSep: 20, rankSep: 28, nodeDimensionsIncludeLabels: true, animate: false },
    autoungrabify: true,
    boxSelectionEnabled: false,
    textureOnViewport: isBig,
    hideEdgesOnViewport: isBig,
    motionBlur: false,
    pixelRatio: isBig ? 1 : 'auto',
    ...(view != null ? { zoom: 1, pan: { x: view.x, y: view.y } } : {})
  })
  // Cytoscape's canvas renderer builds its layered textures of the whole graph, every element
  // drawn, synchronously on its first frame (LayeredTextureCache.firstGet in 3.34): on a large
  // graph that first frame costs seconds, while only the top of the graph is on screen. Marked
  // as not first, the layers are queued and built over the next frames within the renderer's own
  // time budget, and the first frame draws only what is in view. Cytoscape is pinned to an exact
  // version; if the field is not there, nothing changes.
  if (isBig) {
    quietFirstStyle(cy)
    quietFirstInvalidation(cy)
    quietFirstBounds(cy)
  }
  const layered = isBig ? cy.renderer()?.data?.lyrTxrCache : undefined
  if (layered != null && layered.firstGet === true) layered.firstGet = false
  const updateLabels = isBig ? labelsInView(cy, state, labelled) : () => {}
  if (!isBig && cy.zoom() > 1.25) {
    // A small graph is not blown up to the size of the box.
    cy.zoom(1.25)
    cy.center()
  }
  performance.mark('graph:laid-out')
  cy.one('render', () => performance.mark('graph:drawn'))

  // Collapsed runs: the button that expands them all, before the graph.
  const showAll = runs.runs.length === 0
    ? null
    : Object.assign(document.createElement('button'), { type: 'button', className: 'show-all' })
  const counts = () => {
    container.dataset.nodes = String(cy.nodes().length)
    container.dataset.edges = String(cy.edges().length)
    container.dataset.collapsed = String(runs.runs.length - expanded.size)
    if (showAll == null) return
    const hidden = runs.runs.reduce((k, r) => expanded.has(r.id) ? k : k + r.members.length, 0)
    showAll.textContent = `Show all ${many(nodes.length)} (${many(hidden)} folded into ${runs.runs.length - expanded.size} runs)`
    showAll.hidden = hidden === 0
  }

  /** The id drawn for node `id`: its own, or its run's while the run is collapsed. */
  const shownId = (id) => {
    const r = runs.runOf.get(id)
    return r == null || expanded.has(r) ? id : r
  }
  /** The route highlighted (ids along a path), kept across expansions. */
  let route = null
  /** Marks the route on what is drawn; the container's data-highlighted counts the elements marked. */
  const paint = () => {
    cy.elements('.route').removeClass('route')
    for (let i = 0; i < (route ?? []).length; i++) {
      cy.getElementById(shownId(route[i])).addClass('route')
      if (i > 0 && shownId(route[i - 1]) !== shownId(route[i])) cy.getElementById(`${shownId(route[i - 1])}>${shownId(route[i])}`).addClass('route')
    }
    if (route != null || container.dataset.highlighted != null) container.dataset.highlighted = String(cy.elements('.route').length)
  }

  /** Expands the collapsed runs `ids`: their members drawn, every node moved to its new lane and row. */
  const expand = (ids) => {
    const add = ids.filter(id => runById.has(id) && !expanded.has(id))
    if (add.length === 0) return false
    for (const id of add) expanded.add(id)
    const wasSelected = add.filter(id => cy.getElementById(id).selected())
    Object.assign(state, visibleGraph(nodes, edges, runs, expanded))
    place()
    // Offsets the wider lanes need get a class of their own.
    const fresh = []
    for (const p of state.at.values()) {
      const v = dx(p)
      if (offsets.cls.has(v)) continue
      const name = `fh-dx${offsets.cls.size}`
      offsets.cls.set(v, name)
      fresh.push([name, v])
    }
    if (fresh.length > 0) {
      let sheet = cy.style()
      for (const [name, v] of fresh) sheet = sheet.selector(`node.${name}`).style({ 'text-margin-x': v })
      sheet.update()
    }
    cy.batch(() => {
      for (const id of add) cy.getElementById(id).remove()
      cy.add([
        ...state.nodes.filter(n => cy.getElementById(n.id).empty()).map(nodeElement),
        ...state.edges.filter(e => cy.getElementById(e.id).empty()).map(edgeElement)
      ])
      for (const n of state.nodes) {
        const ele = cy.getElementById(n.id)
        ele.position(state.at.get(n.id))
        const offset = offsets.cls.get(dx(state.at.get(n.id)))
        if (offsetOf.get(n.id) !== offset) {
          if (offsetOf.has(n.id)) ele.removeClass(offsetOf.get(n.id))
          ele.addClass(offset)
          offsetOf.set(n.id, offset)
        }
      }
      for (const id of add) labelled.delete(id)
      paint()
    })
    for (const id of wasSelected) cy.getElementById(runById.get(id).members[0]).select()
    updateLabels()
    counts()
    return true
  }
  graphs.set(cy, {
    expand,
    /** Draws node `id` if it is in a collapsed run (the run is expanded); whether the graph has it. */
    reveal: (id) => {
      if (!byId.has(id) && !runById.has(id)) return false
      const r = runs.runOf.get(id)
      if (r != null) expand([r])
      return true
    },
    highlight: (ids) => { route = ids; cy.batch(paint) }
  })
  if (showAll != null) {
    showAll.addEventListener('click', () => { expand(runs.runs.map(r => r.id)) })
    container.before(showAll)
  }

  cy.on('tap', 'node', (e) => {
    const id = e.target.id()
    if (runById.has(id)) expand([id])
    else onSelect?.(id)
  })
  // Keyboard: the graph takes focus; ↓/↑ (or j/k) move through the nodes drawn in the order given
  // (the list's order), Home/End jump, Enter opens the selected one (or expands a collapsed run
  // and selects its first member). A live region reads its label.
  const live = document.createElement('span')
  live.className = 'sr-only'
  live.setAttribute('aria-live', 'polite')
  container.after(live)
  container.tabIndex = 0
  const say = (id) => {
    const r = runById.get(id)
    live.textContent = r != null ? `${many(r.members.length)} collapsed: Enter shows them` : byId.get(id).label
    container.dataset.selected = id
  }
  container.addEventListener('keydown', (e) => {
    const order = state.nodes
    const at = order.findIndex(n => cy.getElementById(n.id).selected())
    const step = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1 }[e.key]
    let next
    if (step != null) next = at < 0 ? 0 : Math.min(Math.max(at + step, 0), order.length - 1)
    else if (e.key === 'Home') next = 0
    else if (e.key === 'End') next = order.length - 1
    else if (e.key === 'Enter' && at >= 0) {
      e.preventDefault()
      const id = order[at].id
      if (!runById.has(id)) { onSelect?.(id); return }
      const first = runById.get(id).members[0]
      expand([id])
      focusNode(cy, first)
      say(first)
      return
    } else return
    e.preventDefault()
    focusNode(cy, order[next].id)
    say(order[next].id)
  })
  counts()
  container.dataset.allNodes = String(nodes.length)
  container.dataset.allEdges = String(allEdges)
  container.dataset.renderMs = String(Math.round(performance.now() - t0))
  container.cy = cy
  return cy
}

/** Selects and centres one node (no tap event), expanding the collapsed run it is in. */
export function focusNode (cy, id) {
  graphs.get(cy)?.reveal(id)
  const n = cy.getElementById(id)
  if (n.empty()) return false
  cy.$(':selected').unselect()
  n.select()
  cy.center(n)
  return true
}

/** Highlights a path (ids in order, consecutive ones joined by an edge), or nothing (null); a collapsed run on it is highlighted whole. */
export function highlightPath (cy, ids) {
  graphs.get(cy)?.highlight(ids)
}
