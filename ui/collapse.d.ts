// Types of collapse.js for the tests that import it (the page itself is plain JavaScript).
export interface Run { id: string, members: string[] }
export interface Runs { runs: Run[], runOf: Map<string, string> }
export interface GraphNode { id: string, classes?: string[] }
export interface GraphEdge { source: string, target: string }
export function linearRuns<N extends GraphNode> (nodes: N[], edges: GraphEdge[], options?: { keepFirst?: number, minRun?: number, marked?: (node: N) => boolean, keep?: string[] }): Runs
export function visibleGraph<N extends GraphNode> (nodes: N[], edges: GraphEdge[], runs: Runs, expanded?: Set<string>): { nodes: Array<N | { id: string, run: string[] }>, edges: Array<GraphEdge & { id: string }> }
