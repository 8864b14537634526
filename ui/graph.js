// DAG drawing: Cytoscape.js with the dagre layered layout, both served from the package.
import cytoscape from '/ui/vendor/cytoscape.mjs'
import dagre from '/ui/vendor/cytoscape-dagre.mjs'
import { graphStratify, grid } from '/ui/vendor/d3-dag.mjs'

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
 * Keeps the `labelled` class on the nodes in view (and LABEL_MARGIN around it) of a large graph,
 * `labelled` being the set that has it: after the view moves (a scroll, a zoom, a node centred by
 * the keyboard) and settles, the nodes that came into view get their label and those that left
 * lose it. Zoomed out past LABEL_ZOOM, where labels are too small to be drawn, none has one.
 */
function labelsInView (cy, nodes, at, labelled) {
  let timer
  const update = () => {
    timer = undefined
    if (cy.destroyed()) return
    const want = new Set()
    if (cy.zoom() >= LABEL_ZOOM) {
      const { y1, y2 } = cy.extent()
      for (const n of nodes) {
        const y = at.get(n.id).y
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
}

/**
 * Draws `nodes` ({ id, label, classes, color }) and `edges` ({ source, target }) in `container`,
 * top to bottom. `onSelect(id)` is called on a tap. The container carries the counts
 * (data-nodes, data-edges) and the time the layout took (data-render-ms).
 */
export function drawDag (container, { nodes, edges, onSelect }) {
  const t0 = performance.now()
  performance.mark('graph:start')
  const isBig = nodes.length > LAYERED_MAX
  // Lanes: every label starts right of the last lane, in one column.
  const placed = isBig ? lanes(nodes, edges) : null
  const colours = classStyles('fh-c', nodes.map(n => n.color), 'background-color')
  const dx = (p) => placed.width - p.x + 6
  const offsets = classStyles('fh-dx', placed == null ? [] : [...placed.at.values()].map(dx), 'text-margin-x')
  // A large graph opens at its top (the newest commits, the first steps) at zoom 1: the nodes in
  // that first view get their label from the start.
  const view = isBig ? { x: 24, y: 24, height: container.clientHeight } : null
  const labelled = new Set()
  if (view != null) {
    for (const n of nodes) {
      const y = placed.at.get(n.id).y
      if (y >= -view.y - LABEL_MARGIN && y <= view.height - view.y + LABEL_MARGIN) labelled.add(n.id)
    }
  }
  const classesOf = (n) => {
    const p = placed?.at.get(n.id)
    const extra = [colours.cls.get(n.color), p == null ? null : offsets.cls.get(dx(p)), labelled.has(n.id) ? 'labelled' : null].filter(c => c != null)
    return extra.length === 0 ? n.classes ?? [] : [...(n.classes ?? []), ...extra]
  }
  const cy = cytoscape({
    container,
    elements: [
      ...nodes.map(n => {
        const p = placed?.at.get(n.id)
        return { group: 'nodes', data: { id: n.id, label: n.label, ...(n.color ? { color: n.color } : {}) }, classes: classesOf(n), ...(p ? { position: p } : {}) }
      }),
      ...edges.map(e => ({ group: 'edges', data: { id: `${e.source}>${e.target}`, source: e.source, target: e.target } }))
    ],
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
  if (isBig) labelsInView(cy, nodes, placed.at, labelled)
  else if (cy.zoom() > 1.25) {
    // A small graph is not blown up to the size of the box.
    cy.zoom(1.25)
    cy.center()
  }
  performance.mark('graph:laid-out')
  cy.one('render', () => performance.mark('graph:drawn'))
  cy.on('tap', 'node', (e) => onSelect?.(e.target.id()))
  // Keyboard: the graph takes focus; ↓/↑ (or j/k) move through the nodes in the order given (the
  // list's order), Home/End jump, Enter opens the selected one. A live region reads its label.
  const live = document.createElement('span')
  live.className = 'sr-only'
  live.setAttribute('aria-live', 'polite')
  container.after(live)
  container.tabIndex = 0
  container.addEventListener('keydown', (e) => {
    const at = nodes.findIndex(n => cy.getElementById(n.id).selected())
    const step = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1 }[e.key]
    let next
    if (step != null) next = at < 0 ? 0 : Math.min(Math.max(at + step, 0), nodes.length - 1)
    else if (e.key === 'Home') next = 0
    else if (e.key === 'End') next = nodes.length - 1
    else if (e.key === 'Enter' && at >= 0) { e.preventDefault(); onSelect?.(nodes[at].id); return } else return
    e.preventDefault()
    focusNode(cy, nodes[next].id)
    live.textContent = nodes[next].label
    container.dataset.selected = nodes[next].id
  })
  container.dataset.nodes = String(cy.nodes().length)
  container.dataset.edges = String(cy.edges().length)
  container.dataset.renderMs = String(Math.round(performance.now() - t0))
  container.cy = cy
  return cy
}

/** Selects and centres one node (no tap event). */
export function focusNode (cy, id) {
  const n = cy.getElementById(id)
  if (n.empty()) return false
  cy.$(':selected').unselect()
  n.select()
  cy.center(n)
  return true
}
