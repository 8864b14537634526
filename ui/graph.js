// DAG drawing: Cytoscape.js with the dagre layered layout, both served from the package.
import cytoscape from '/ui/vendor/cytoscape.mjs'
import dagre from '/ui/vendor/cytoscape-dagre.mjs'

cytoscape.use(dagre)

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
  { selector: 'node:selected', style: { 'overlay-color': '#f2a900', 'overlay-opacity': 0.35, 'overlay-padding': 6 } }
]

/**
 * Draws `nodes` ({ id, label, classes, color }) and `edges` ({ source, target }) in `container`,
 * top to bottom. `onSelect(id)` is called on a tap. The container carries the counts
 * (data-nodes, data-edges) and the time the layout took (data-render-ms).
 */
export function drawDag (container, { nodes, edges, onSelect }) {
  const t0 = performance.now()
  const big = nodes.length > 300
  const cy = cytoscape({
    container,
    elements: [
      ...nodes.map(n => ({ group: 'nodes', data: { id: n.id, label: n.label, ...(n.color ? { color: n.color } : {}) }, classes: n.classes ?? [] })),
      ...edges.map(e => ({ group: 'edges', data: { id: `${e.source}>${e.target}`, source: e.source, target: e.target } }))
    ],
    style: [...style, { selector: 'node[color]', style: { 'background-color': 'data(color)' } }],
    layout: { name: 'dagre', rankDir: 'TB', nodeSep: 20, rankSep: 28, nodeDimensionsIncludeLabels: true, animate: false },
    autoungrabify: true,
    boxSelectionEnabled: false,
    textureOnViewport: big,
    hideEdgesOnViewport: big,
    pixelRatio: big ? 1 : 'auto'
  })
  // A small graph is not blown up to the size of the box.
  if (cy.zoom() > 1.25) {
    cy.zoom(1.25)
    cy.center()
  }
  cy.on('tap', 'node', (e) => onSelect?.(e.target.id()))
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
