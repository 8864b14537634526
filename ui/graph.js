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

const style = [
  { selector: 'node', style: { 'background-color': '#6b8fd6', label: 'data(label)', 'font-size': 10, 'text-valign': 'center', 'text-halign': 'right', 'text-margin-x': 6, width: 14, height: 14, 'border-width': 1, 'border-color': '#1d2330', 'min-zoomed-font-size': 6 } },
  { selector: 'edge', style: { width: 1.5, 'line-color': '#9aa4b5', 'target-arrow-color': '#9aa4b5', 'target-arrow-shape': 'triangle', 'arrow-scale': 0.7, 'curve-style': 'bezier' } },
  { selector: 'node.merge', style: { shape: 'diamond', width: 18, height: 18, 'background-color': '#8e5bd6' } },
  { selector: 'node.split', style: { shape: 'hexagon', width: 18, height: 18 } },
  { selector: 'node.forked', style: { 'border-width': 4, 'border-color': '#d9480f' } },
  { selector: 'node.head', style: { 'font-weight': 'bold' } },
  { selector: 'node.root', style: { shape: 'round-rectangle' } },
  { selector: 'node.route', style: { 'border-width': 4, 'border-color': '#d9480f' } },
  { selector: 'edge.route', style: { width: 4, 'line-color': '#d9480f', 'target-arrow-color': '#d9480f' } },
  // Large graphs: the cheapest marks Cytoscape draws (straight haystack edges, no arrows: the lanes
  // run downwards; no node borders but on marked nodes).
  { selector: '.big', style: { 'border-width': 0 } },
  { selector: 'edge.big', style: { 'curve-style': 'haystack', 'haystack-radius': 0, 'target-arrow-shape': 'none', width: 1.5 } },
  { selector: 'node.big.merge, node.big.forked, node.big.route', style: { 'border-width': 3 } },
  { selector: 'node:selected', style: { 'overlay-color': '#f2a900', 'overlay-opacity': 0.35, 'overlay-padding': 6 } }
]

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
 * Draws `nodes` ({ id, label, classes, color }) and `edges` ({ source, target }) in `container`,
 * top to bottom. `onSelect(id)` is called on a tap. The container carries the counts
 * (data-nodes, data-edges) and the time the layout took (data-render-ms).
 */
export function drawDag (container, { nodes, edges, onSelect }) {
  const t0 = performance.now()
  performance.mark('graph:start')
  const big = nodes.length > LAYERED_MAX
  // Lanes: every label starts right of the last lane, in one column.
  const placed = big ? lanes(nodes, edges) : null
  const cy = cytoscape({
    container,
    elements: [
      ...nodes.map(n => {
        const p = placed?.at.get(n.id)
        return { group: 'nodes', data: { id: n.id, label: n.label, ...(n.color ? { color: n.color } : {}), ...(p ? { dx: placed.width - p.x + 6 } : {}) }, classes: big ? [...(n.classes ?? []), 'big'] : n.classes ?? [], ...(p ? { position: p } : {}) }
      }),
      ...edges.map(e => ({ group: 'edges', data: { id: `${e.source}>${e.target}`, source: e.source, target: e.target }, classes: big ? ['big'] : [] }))
    ],
    style: [...style, { selector: 'node[color]', style: { 'background-color': 'data(color)' } }, { selector: 'node[dx]', style: { 'text-margin-x': 'data(dx)' } }],
    layout: big ? { name: 'framehub-keep' } : { name: 'dagre', rankDir: 'TB', nodeSep: 20, rankSep: 28, nodeDimensionsIncludeLabels: true, animate: false },
    autoungrabify: true,
    boxSelectionEnabled: false,
    textureOnViewport: big,
    hideEdgesOnViewport: big,
    pixelRatio: big ? 1 : 'auto'
  })
  // Cytoscape's canvas renderer builds its layered textures of the whole graph, every element
  // drawn, synchronously on its first frame (LayeredTextureCache.firstGet in 3.34): on a large
  // graph that first frame costs seconds, while only the top of the graph is on screen. Marked
  // as not first, the layers are queued and built over the next frames within the renderer's own
  // time budget, and the first frame draws only what is in view. Cytoscape is pinned to an exact
  // version; if the field is not there, nothing changes.
  if (big) quietFirstStyle(cy)
  const layered = big ? cy.renderer()?.data?.lyrTxrCache : undefined
  if (layered != null && layered.firstGet === true) layered.firstGet = false
  // A large graph opens at its top (the newest commits, the first steps) at a readable size.
  if (big) {
    cy.zoom(1)
    cy.pan({ x: 24, y: 24 })
  } else if (cy.zoom() > 1.25) {
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
