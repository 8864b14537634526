import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { runCli } from '../helpers/repo.ts'
import { createSwarm } from '../helpers/swarm.ts'

/**
 * Three real daemons on loopback (random ports): B and C bootstrap from A. Everything goes
 * through the real CLI, as a user would drive it. The swarm is shared; each test writes on a
 * shared branch (and a session) of its own, and passes alone or in any order.
 */
describe('a swarm of daemon processes on loopback', { timeout: 600_000 }, () => {
  const swarm = createSwarm({ prefix: 'framehub-swarm-', network: 'swarm-test', untilMs: 90_000, everyMs: 200 })
  const { repo, node, ok, sharedHead, headOf, until } = swarm

  before(async () => {
    await swarm.start('a', 'b', 'c')
    // Every test starts on a swarm where each node is connected to the two others.
    for (const name of ['a', 'b', 'c']) await until(`${name} connected to the others`, async () => (await ok(name, ['peers'])).peers.length >= 2)
  })
  after(async () => { await swarm.close() })

  it('id and peers: every node sees the others; bad addresses are refused', async () => {
    const id = await ok('a', ['id'])
    assert.equal(id.peerId, node('a').info.peerId)
    assert.equal(id.network, 'swarm-test')
    assert.ok(id.addresses.every((a: string) => a.startsWith('/ip4/127.0.0.1/')))
    await until('b and c connected to a', async () => (await ok('a', ['peers'])).peers.length >= 2)
    const bad = await node('b').cli(['peers', 'connect', '/not/a/multiaddr', '--json'])
    assert.equal(bad.code, 2)
    assert.equal(JSON.parse(bad.stderr.trim()).code, 'ERR_USAGE')
    // A peer nobody runs (b is already connected to every node of the swarm, and a dial to a
    // connected peer reuses its connection whatever the address).
    const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const unreachable = await node('b').cli(['peers', 'connect', `/ip4/127.0.0.1/tcp/1/p2p/${nobody}`, '--json'])
    assert.equal(unreachable.code, 7, unreachable.stderr)
    assert.equal(JSON.parse(unreachable.stderr.trim()).code, 'ERR_PEER_UNREACHABLE')
  })

  it('a commit to shared/main on one node reaches the others (chain entry, then one sync)', async () => {
    await ok('a', ['checkout', '--create', 'shared/main'])
    await ok('a', ['frame', 'put', '-'], JSON.stringify({ id: 'swarm/hello', kind: 'fact', title: 'hello swarm' }))
    const commit = await ok('a', ['commit', '-m', 'first shared commit'])
    for (const name of ['b', 'c']) {
      await until(`${name} has a's head`, async () => await sharedHead(name) === commit.commit)
      const frame = await ok(name, ['frame', 'get', 'swarm/hello', '--ref', 'shared/main'])
      assert.equal(frame.frame.title, 'hello swarm')
      const remotes = await ok(name, ['remotes'])
      assert.ok(remotes.remotes.some((r: { peer: string, ref: string, head: string }) => r.peer === node('a').info.peerId && r.ref === 'shared/main' && r.head === commit.commit))
      assert.equal((await ok(name, ['verify', 'shared/main'])).ok, true)
    }
    // Work continues on b: a and c follow.
    await ok('b', ['checkout', 'shared/main'])
    await ok('b', ['frame', 'put', '-'], JSON.stringify({ id: 'swarm/from-b', kind: 'note', title: 'b was here' }))
    const second = await ok('b', ['commit', '-m', 'second, on b'])
    for (const name of ['a', 'c']) await until(`${name} has b's head`, async () => await sharedHead(name) === second.commit)
  })

  it('publish refuses what is not a shared branch and reports what it checked', async () => {
    const r = await node('a').cli(['publish', 'main', '--json'])
    assert.equal(r.code, 2)
    assert.equal(JSON.parse(r.stderr.trim()).code, 'ERR_USAGE')
    await ok('a', ['checkout', '--create', 'shared/published'])
    await ok('a', ['frame', 'put', '-'], JSON.stringify({ id: 'swarm/published', kind: 'fact', title: 'to publish' }))
    await ok('a', ['commit', '-m', 'to publish'])
    const published = await ok('a', ['publish', 'shared/published'])
    assert.equal(published.ref.name, 'shared/published')
    assert.ok(published.checked > 0)
  })

  it('a session started on a is continued on b (its steps name a\'s steps), and both see it all', async () => {
    const first = await ok('a', ['trace', 'append', '-s', 'plan', '-'], JSON.stringify({ op: 'thought', content: 'start on a' }))
    await until('b has the session', async () => JSON.stringify((await node('b').cli(['trace', 'heads', 'plan', '--json'])).json ?? null).includes(first.cid))
    const second = await ok('b', ['trace', 'append', '-s', 'plan', '-'], JSON.stringify({ op: 'action', content: 'continued on b' }))
    assert.deepEqual(second.parents, [first.cid])
    for (const name of ['a', 'b', 'c']) {
      await until(`${name} sees both steps`, async () => {
        const shown = await node(name).cli(['trace', 'show', 'plan', '--json'])
        return shown.code === 0 && JSON.stringify(shown.json).includes(second.cid) && JSON.stringify(shown.json).includes(first.cid)
      })
    }
  })

  it('a node that was offline catches up when it comes back; a node that goes away loses nothing it published', async () => {
    await node('c').stop()
    await ok('a', ['checkout', '--create', 'shared/catch-up'])
    await ok('a', ['frame', 'put', '-'], JSON.stringify({ id: 'swarm/while-c-was-away', kind: 'fact' }))
    const commit = await ok('a', ['commit', '-m', 'while c was away'])
    await until('b has it', async () => await headOf('b', 'shared/catch-up') === commit.commit)
    // a goes away; c comes back (bootstrapping from b, a being gone) and gets it from b.
    await node('a').stop()
    await swarm.startNode('c', node('b'))
    await until('c caught up', async () => await headOf('c', 'shared/catch-up') === commit.commit, 60_000)
    assert.equal((await ok('c', ['verify', 'shared/catch-up'])).ok, true)
    await swarm.startNode('a', node('b'))
  })

  it('kill -9 during a sync: the repository stays consistent and the sync completes after a restart', async () => {
    // A big enough commit on b that c is still receiving it when it is killed.
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ id: `bulk/${String(i).padStart(5, '0')}`, kind: 'fact', body: 'x'.repeat(200) + i }))
    await writeFile(join(swarm.dir, 'bulk.ndjson'), lines.join('\n') + '\n')
    await ok('b', ['checkout', '--create', 'shared/bulk'])
    await ok('b', ['frame', 'import', join(swarm.dir, 'bulk.ndjson')])
    const commit = await ok('b', ['commit', '-m', 'bulk'])
    // c hears of the commit within a few hundred ms and needs a few seconds to receive it: kill it meanwhile.
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.notEqual(await headOf('c', 'shared/bulk'), commit.commit, 'c is killed before the sync completes')
    await node('c').kill()
    const offline = await runCli(['--repo', repo('c'), 'verify', '--json'], { cwd: swarm.dir })
    assert.notEqual(offline.code, 5, `the repository is consistent after kill -9: ${offline.stderr}`)
    await swarm.startNode('c', node('b'))
    await until('c completed the sync', async () => await headOf('c', 'shared/bulk') === commit.commit, 120_000)
    assert.equal((await ok('c', ['verify', 'shared/bulk'])).ok, true)
  })
})
