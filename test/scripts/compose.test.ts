import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
// `yaml` is not a dependency of framehub itself: it is installed for @fastify/swagger and
// @fastify/swagger-ui (both dependencies). No Docker engine runs here, so a real YAML parser is
// the closest check of what `docker compose` would read.
import { parse } from 'yaml'
import { COMPOSE, LOOPBACK, NETWORK, NODES, commandsByNode, composeBootstrap, daemonArgs } from '../../scripts/demo-steps.ts'

/**
 * docker-compose.yml runs the swarm of `npm run demo` (scripts/demo-steps.ts): the same three
 * daemons with the same flags, the compose network instead of loopback.
 */
interface Service {
  image?: string
  build?: unknown
  pull_policy?: string
  entrypoint?: string[]
  command?: string[]
  depends_on?: Record<string, { condition?: string }>
  healthcheck?: { test: string[] }
  ports?: string[]
  volumes?: string[]
}
const root = new URL('../../', import.meta.url)
const text = readFileSync(new URL('docker-compose.yml', root), 'utf8')
const compose = parse(text) as { services: Record<string, Service>, volumes?: Record<string, unknown> }
const services = compose.services
const service = (name: string): Service => services[name] as Service
/** Compose's own interpolation: `$$` is a literal `$`; a lone `$VAR` would be replaced by compose. */
const interpolate = (s: string): string => s.replaceAll('$$', '$')
const REPO = ['--repo', '/data/repo']
const PEER = '12D3KooWPeerIdOfNode1'

/** What runs in a service's container: entrypoint + command, with node2/node3's shell wrapper resolved. */
function argv (name: string): string[] {
  const s = service(name)
  const entrypoint = (s.entrypoint ?? []).map(interpolate)
  const command = (s.command ?? []).map(interpolate)
  if (entrypoint[0] !== 'sh') return [...entrypoint, ...command]
  // sh -c SCRIPT $0 ARGS…: the script reads node1's id over HTTP and execs the CLI with "$@" and --bootstrap.
  const [, flag, script = '', dollar0] = entrypoint
  assert.equal(flag, '-c')
  assert.equal(dollar0, 'framehub')
  assert.match(script, /^set -e$/m)
  assert.match(script, /^id=\$\(node -e '.*fetch\("http:\/\/node1:8080\/api\/v1\/id"\).*j\.peerId.*'\)$/m, 'reads node1\'s peer id from its API')
  const exec = /^exec (.+) "\$@" --bootstrap "([^"]+)"$/m.exec(script)
  assert.ok(exec != null, `${name}: the script ends by exec'ing the CLI with "$@" and --bootstrap`)
  return [...(exec[1] as string).split(' '), ...command, '--bootstrap', (exec[2] as string).replace('$id', PEER)]
}

describe('docker-compose.yml: the demo swarm in containers', () => {
  it('has three nodes, node1..node3, built once from the Dockerfile as one image', () => {
    assert.deepEqual(Object.keys(services), NODES)
    const images = new Set(NODES.map(n => service(n).image))
    assert.deepEqual([...images], ['framehub:latest'])
    const built = NODES.filter(n => service(n).build != null)
    assert.deepEqual(built, ['node1'], 'one service builds the image')
    assert.equal(service('node1').build, '.')
    assert.ok(existsSync(new URL('Dockerfile', root)))
    for (const n of NODES.filter(n => n !== 'node1')) assert.equal(service(n).pull_policy, 'never', `${n} uses the image node1 builds, never a registry's`)
  })

  it('every node runs the framehub daemon with the demo\'s flags (network, listen, node1 as bootstrap)', () => {
    const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8')
    assert.match(dockerfile, /^WORKDIR \/app$/m)
    assert.match(dockerfile, /^COPY \. \.$/m)
    const byNode = commandsByNode(COMPOSE, composeBootstrap(PEER))
    for (const n of NODES) {
      const args = argv(n)
      assert.deepEqual(args.slice(0, 2), ['node', 'bin/framehub.js'], `${n} runs this checkout's CLI`)
      assert.deepEqual(args.slice(2), [...REPO, ...daemonArgs(n, COMPOSE, composeBootstrap(PEER))], `${n}: ${args.join(' ')}`)
      assert.deepEqual(args.slice(4), byNode[n][0], `${n}: the daemon command of scripts/demo-steps.ts`)
      // The same flags as the demo on loopback; only the addresses differ.
      const flags = (a: string[]): string[] => a.filter(x => x.startsWith('--'))
      assert.deepEqual(flags(args.slice(4)), flags(daemonArgs(n, LOOPBACK, '/ip4/127.0.0.1/tcp/1/p2p/x')))
      assert.equal(args[args.indexOf('--network') + 1], NETWORK)
    }
    assert.equal(argv('node2').at(-1), `/dns4/node1/tcp/4001/p2p/${PEER}`)
    assert.ok(COMPOSE.listen.endsWith('/tcp/4001'), 'node1 listens where the others bootstrap')
  })

  it('node2 and node3 start once node1 answers; nothing is left to compose\'s interpolation', () => {
    const test = service('node1').healthcheck?.test ?? []
    assert.equal(test[0], 'CMD')
    assert.match(test.join(' '), /fetch\('http:\/\/127\.0\.0\.1:8080\/health'\)/)
    for (const n of ['node2', 'node3']) assert.deepEqual(service(n).depends_on, { node1: { condition: 'service_healthy' } })
    const strings = (v: unknown): string[] => typeof v === 'string' ? [v] : typeof v === 'object' && v != null ? Object.values(v).flatMap(strings) : []
    for (const s of strings(compose)) assert.doesNotMatch(s.replaceAll('$$', ''), /\$/, `every $ is written $$: ${s}`)
  })

  it('ports and volumes: each API on its own loopback port, each repository in its own volume', () => {
    const apiPort = COMPOSE.api.split(':')[1]
    const hostPorts = new Set<string>()
    const volumes = new Set<string>()
    for (const n of NODES) {
      const s = service(n)
      assert.equal(s.ports?.length, 1, `${n} publishes its API only (libp2p stays on the compose network)`)
      const m = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(s.ports?.[0] ?? '')
      assert.ok(m != null, `${n}: the API is published on the host's loopback only`)
      assert.equal(m[2], apiPort)
      hostPorts.add(m[1] as string)
      assert.deepEqual(s.volumes, [`${n}:/data`], `${n} keeps /data/repo (its key, so its peer id) in a named volume`)
      volumes.add(n)
    }
    assert.equal(hostPorts.size, 3)
    assert.deepEqual(new Set(Object.keys(compose.volumes ?? {})), volumes)
  })
})
