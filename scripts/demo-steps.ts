// What `npm run demo` (scripts/demo.ts) does, as data: the daemon flags of each node and the CLI
// commands run on each, in order. docker-compose.yml runs the same daemons (a test compares them),
// so this file is the one place that says how the demo swarm is started.
//
// A command's `$NAME` arguments are CIDs printed by earlier commands (`save`), as in a shell script.

export type NodeName = 'node1' | 'node2' | 'node3'
export const NODES: NodeName[] = ['node1', 'node2', 'node3']

/** The swarm name: nodes of one network follow each other's chains. */
export const NETWORK = 'demo'
/** The branch all nodes share, and the reasoning session they continue on each other's nodes. */
export const BRANCH = 'shared/main'
export const SESSION = 'rollout'

/** Where a node listens: on loopback for the demo, on the compose network for docker-compose.yml. */
export interface Place { api: string, listen: string }
export const LOOPBACK: Place = { api: '127.0.0.1:0', listen: '/ip4/127.0.0.1/tcp/0' }
export const COMPOSE: Place = { api: '0.0.0.0:8080', listen: '/ip4/0.0.0.0/tcp/4001' }
/** In docker-compose.yml, node1 is reached by its service name. */
export const composeBootstrap = (peerId: string): string => `/dns4/node1/tcp/4001/p2p/${peerId}`

/**
 * `framehub --repo R daemon …`: node1 starts alone; node2 and node3 bootstrap from node1's
 * address (one of those it prints, ending in /p2p/<peer id>).
 */
export function daemonArgs (node: NodeName, place: Place, node1Address?: string): string[] {
  const args = ['daemon', '--api', place.api, '--listen', place.listen, '--network', NETWORK]
  if (node === 'node1') return args
  if (node1Address == null) throw new Error(`${node} needs node1's address to bootstrap from`)
  return [...args, '--bootstrap', node1Address]
}

/** The demo adds these to see the address line (--json) and keep the terminal quiet. */
export const DEMO_DAEMON_OUTPUT = ['--json', '--log-level', 'warn']

export type Step =
  /** A heading. */
  | { kind: 'say', text: string }
  /** `framehub --repo NODE …args` (stdin: a JSON document piped in); `save` keeps its output (a CID) as $NAME. */
  | { kind: 'run', node: NodeName, args: string[], stdin?: unknown, save?: string }
  /** Waits until `nodes` have `from`'s head of shared/main. */
  | { kind: 'same-head', from: NodeName, nodes: NodeName[] }
  /** Waits until `nodes` have the steps $NAME… of the session. */
  | { kind: 'has-steps', nodes: NodeName[], steps: string[] }
  /** Checks and prints that every node has the same shared/main head and the same session. */
  | { kind: 'converged' }

const say = (text: string): Step => ({ kind: 'say', text })
const run = (node: NodeName, ...args: string[]): Step => ({ kind: 'run', node, args })
const frame = (node: NodeName, f: object): Step => ({ kind: 'run', node, args: ['frame', 'put', '-'], stdin: f })
const step = (node: NodeName, save: string, op: string, content: string, parents: string[] = []): Step =>
  ({ kind: 'run', node, args: ['trace', 'append', '-s', SESSION, ...parents.flatMap(p => ['--parent', `$${p}`]), '-'], stdin: { op, content }, save })

export const STEPS: Step[] = [
  say('Who is connected: node2 and node3 dialled node1'),
  run('node1', 'peers'),
  run('node3', 'peers'),

  say('node1 writes two frames on shared/main and commits: the commit is published on its chain'),
  run('node1', 'checkout', '--create', BRANCH),
  frame('node1', { id: 'swarm/chains', kind: 'fact', title: 'Chains', body: 'each node appends the heads it publishes to its own OrbitDB log' }),
  frame('node1', { id: 'swarm/sync', kind: 'fact', title: 'Sync', body: 'a peer fetches what it lacks of a head in one round trip' }),
  run('node1', 'commit', '-m', 'node1: how heads travel'),
  { kind: 'same-head', from: 'node1', nodes: ['node2', 'node3'] },

  say('node2 continues shared/main (it has node1\'s head) and commits'),
  run('node2', 'checkout', BRANCH),
  run('node2', 'frame', 'ls', BRANCH),
  frame('node2', { id: 'swarm/fast-forward', kind: 'fact', title: 'Fast-forward', body: 'a node moves its shared branch to a peer head that descends from it' }),
  run('node2', 'commit', '-m', 'node2: what a node does with a peer head'),
  { kind: 'same-head', from: 'node2', nodes: ['node1', 'node3'] },

  say(`A reasoning session "${SESSION}": started on node1, two parallel routes on node2, merged on node3`),
  step('node1', 'GOAL', 'thought', 'how do we roll out the new frame index?'),
  step('node1', 'MEASURE', 'action', 'measure the current index on the shared branch'),
  { kind: 'has-steps', nodes: ['node2'], steps: ['MEASURE'] },
  step('node2', 'OFFLINE', 'action', 'route A: rebuild offline, swap at once', ['MEASURE']),
  step('node2', 'GRADUAL', 'action', 'route B: migrate branch by branch', ['MEASURE']),
  { kind: 'has-steps', nodes: ['node3'], steps: ['OFFLINE', 'GRADUAL'] },
  step('node3', 'DECISION', 'conclusion', 'migrate branch by branch; the offline rebuild is the fallback', ['OFFLINE', 'GRADUAL']),
  { kind: 'has-steps', nodes: ['node1', 'node2'], steps: ['DECISION'] },
  run('node1', 'trace', 'show', SESSION),
  run('node1', 'trace', 'routes', SESSION),

  say('Every node has the same shared/main head and the same session'),
  { kind: 'converged' }
]

/** The CLI commands (arguments after `framehub --repo NODE`) each node runs, the daemon first. */
export function commandsByNode (place: Place = LOOPBACK, node1Address = '<node1 address>'): Record<NodeName, string[][]> {
  const out = Object.fromEntries(NODES.map(n => [n, [daemonArgs(n, place, node1Address)]])) as Record<NodeName, string[][]>
  for (const s of STEPS) if (s.kind === 'run') out[s.node].push(s.args)
  return out
}
