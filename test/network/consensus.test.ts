import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { runCli } from '../helpers/repo.ts'
import { createSwarm } from '../helpers/swarm.ts'

/**
 * Three real daemons on loopback converge on one canonical head of shared/main after a
 * partition: c is cut off (its daemon stopped, work goes on there with the CLI alone), both sides
 * write conflicting and non-conflicting frames, then c comes back. Everything goes through the
 * real CLI and the gateway, as a user would drive it. The swarm is shared; each test writes on a
 * shared branch of its own, and passes alone or in any order.
 */
describe('consensus among daemon processes on loopback', { timeout: 600_000 }, () => {
  const swarm = createSwarm({ prefix: 'framehub-consensus-', network: 'consensus-test', untilMs: 60_000, everyMs: 250 })
  const { repo, node, ok, sharedHead, headOf, until } = swarm
  const start = swarm.startNode
  const put = async (name: string, frame: object): Promise<void> => { await ok(name, ['frame', 'put', '-'], JSON.stringify(frame)) }

  before(async () => { await swarm.start('a', 'b', 'c') })
  after(async () => { await swarm.close() })

  it('after a partition heals, every node ends on one head holding every version (winners in the tree, the rest as forks)', async () => {
    await ok('a', ['checkout', '--create', 'shared/main'])
    await put('a', { id: 'topic/x', kind: 'fact', title: 'x at the start' })
    const base = (await ok('a', ['commit', '-m', 'start'])).commit as string
    for (const n of ['b', 'c']) await until(`${n} has the start`, async () => await sharedHead(n) === base)
    for (const n of ['b', 'c']) await ok(n, ['checkout', 'shared/main'])

    // Partition: c's daemon stops; c goes on writing with the CLI alone.
    await node('c').stop()
    const cli = async (args: string[], input?: string): Promise<any> => {
      const r = await runCli(['--repo', repo('c'), ...args, '--json'], { input, cwd: swarm.dir })
      assert.equal(r.code, 0, r.stderr)
      return r.json
    }
    await cli(['trace', 'append', '-s', 'goal', '-'], JSON.stringify({ op: 'thought', content: 'c, cut off, thinks on' }))
    await cli(['frame', 'put', '-'], JSON.stringify({ id: 'topic/x', kind: 'fact', title: 'x as c sees it' }))
    await cli(['frame', 'put', '-'], JSON.stringify({ id: 'topic/z', kind: 'fact', title: 'z, only on c' }))
    const cCommit = (await cli(['commit', '-m', 'c, cut off'])).commit as string
    await ok('a', ['trace', 'append', '-s', 'goal', '-'], JSON.stringify({ op: 'thought', content: 'a thinks on its side' }))
    await put('a', { id: 'topic/x', kind: 'fact', title: 'x as a sees it' })
    const aCommit = (await ok('a', ['commit', '-m', 'a, on its side'])).commit as string
    await until('b has a\'s side', async () => await sharedHead('b') === aCommit)
    await put('b', { id: 'topic/y', kind: 'fact', title: 'y, on b' })
    const bCommit = (await ok('b', ['commit', '-m', 'b, on its side'])).commit as string
    await until('a has b\'s side', async () => await sharedHead('a') === bCommit)

    // Heal: c comes back and publishes what it committed while cut off.
    await start('c', node('a'))
    await until('one head on a, b and c', async () => {
      const heads = await Promise.all(['a', 'b', 'c'].map(sharedHead))
      return heads[0] !== undefined && heads.every(h => h === heads[0]) && heads[0] !== bCommit && heads[0] !== cCommit
    }, 90_000)
    const head = await sharedHead('a') as string

    const decisions = await Promise.all(['a', 'b', 'c'].map(async n => await ok(n, ['consensus', 'shared/main'])))
    for (const d of decisions) {
      assert.equal(d.branch, 'shared/main')
      assert.equal(d.head, head)
      assert.equal(d.convergence, 1)
      assert.deepEqual(new Set(d.maximal), new Set([bCommit, cCommit]))
      for (const c of d.candidates) {
        assert.equal(typeof c.score, 'number')
        assert.ok(Array.isArray(c.terms) && c.terms.length === d.votes.length)
      }
    }
    // Same chains, same decision record, bit for bit.
    assert.equal(decisions[1].decision, decisions[0].decision)
    assert.equal(decisions[2].decision, decisions[0].decision)

    // b's side has two votes (a and b) against c's one: a's x wins, c's x is a fork.
    const d = decisions[0]
    assert.deepEqual(d.maximal, [bCommit, cCommit])
    assert.equal(d.forks.length, 1)
    assert.equal(d.forks[0].id, 'topic/x')
    for (const n of ['a', 'b', 'c']) {
      const x = await ok(n, ['frame', 'get', 'topic/x', '--ref', 'shared/main'])
      assert.equal(x.frame.title, 'x as a sees it')
      assert.equal((await ok(n, ['frame', 'get', 'topic/y', '--ref', 'shared/main'])).frame.title, 'y, on b')
      assert.equal((await ok(n, ['frame', 'get', 'topic/z', '--ref', 'shared/main'])).frame.title, 'z, only on c')
      assert.equal((await ok(n, ['frame', 'get', d.forks[0].theirs])).frame.title, 'x as c sees it')
      assert.equal((await ok(n, ['verify', 'shared/main'])).ok, true)
    }
    // The session went on on both sides: both routes are kept, on every node.
    for (const n of ['a', 'b', 'c']) {
      await until(`${n} has both routes of the session`, async () => {
        const r = await node(n).cli(['trace', 'routes', 'goal', '--json'])
        return r.code === 0 && (r.json as { routes: unknown[] }).routes.length >= 2
      })
    }
    const status = await ok('c', ['status'])
    assert.equal(status.convergence, 1)
    assert.equal(status.peers, 3)
    assert.ok(status.conflictRate > 0 && status.conflictRate <= 1)
    assert.deepEqual(Object.keys(status).sort(), ['branches', 'conflictRate', 'convergence', 'peers'])

    // The decision record is a block any IPFS client can fetch and check.
    const res = await fetch(`${node('b').info.url}/ipfs/${d.decision}?format=raw`)
    assert.equal(res.status, 200)
    const bytes = new Uint8Array(await res.arrayBuffer())
    const cid = CID.parse(d.decision)
    assert.ok(CID.create(1, dagCbor.code, await sha256.digest(bytes)).equals(cid))
    const record = dagCbor.decode(bytes) as { branch: string, head: CID, rule: number }
    assert.equal(record.branch, 'shared/main')
    assert.equal(record.head.toString(), head)

    // Nothing unconfirmed after the heal; a staged frame is a shadow frame until committed and adopted.
    assert.deepEqual((await ok('c', ['frame', 'ls', '--shadow'])).frames, [])
    // Work continues on top of the canonical head, and everyone follows.
    await put('c', { id: 'topic/w', kind: 'fact', title: 'after the heal' })
    const shadow = await ok('c', ['frame', 'ls', '--shadow'])
    assert.deepEqual(shadow.frames.map((f: { id: string, confirmed: boolean }) => [f.id, f.confirmed]), [['topic/w', false]])
    assert.equal((await ok('c', ['frame', 'get', 'topic/w'])).confirmed, false)
    const next = (await ok('c', ['commit', '-m', 'after the heal'])).commit as string
    const nextCommit = await ok('c', ['show', next])
    assert.deepEqual(nextCommit.value?.parents?.map((p: { '/': string }) => p['/']) ?? nextCommit.parents, [head])
    for (const n of ['a', 'b']) await until(`${n} follows c`, async () => await sharedHead(n) === next)
  })

  it('a node killed (SIGKILL) while the others write and merge converges after its restart', async () => {
    const branch = 'shared/kill'
    const head = async (n: string): Promise<string | undefined> => await headOf(n, branch)
    await ok('a', ['checkout', '--create', branch])
    await put('a', { id: 'topic/k-start', kind: 'fact', title: 'before the kill' })
    const base = (await ok('a', ['commit', '-m', 'start of shared/kill'])).commit as string
    for (const n of ['b', 'c']) await until(`${n} has the start`, async () => await head(n) === base)
    await ok('c', ['checkout', branch])
    // Both stage before either commits: a branch with staged frames is not moved, so c cannot
    // adopt a's commit first, and the two commits conflict on topic/k.
    await put('a', { id: 'topic/k', kind: 'fact', title: 'k as a sees it' })
    await put('c', { id: 'topic/k', kind: 'fact', title: 'k as c sees it' })
    await Promise.all([ok('a', ['commit', '-m', 'a, before the kill']), ok('c', ['commit', '-m', 'c, before the kill'])])
    await node('b').kill()
    await until('a and c on one head', async () => {
      const [x, y] = await Promise.all([head('a'), head('c')])
      return x !== undefined && x !== base && x === y
    })
    await start('b', node('a'))
    await until('a, b and c on one head', async () => {
      const heads = await Promise.all(['a', 'b', 'c'].map(head))
      return heads[0] !== undefined && heads.every(h => h === heads[0])
    }, 90_000)
    assert.equal((await ok('b', ['verify', branch])).ok, true)
    const x = await ok('b', ['frame', 'get', 'topic/k', '--ref', branch])
    const d = await ok('b', ['consensus', branch])
    const other = d.forks.find((f: { id: string }) => f.id === 'topic/k')
    assert.ok(other != null, 'the losing version of topic/k is a fork')
    assert.notEqual(other.theirs, x.cid)
  })

  it('bad input: a branch that is not shared, an unknown branch, a bad member id', async () => {
    const notShared = await node('a').cli(['consensus', 'main', '--json'])
    assert.equal(notShared.code, 2, notShared.stderr)
    assert.equal(JSON.parse(notShared.stderr.trim()).code, 'ERR_USAGE')
    const none = await node('a').cli(['consensus', 'shared/nothing-here', '--json'])
    assert.equal(none.code, 3, none.stderr)
    assert.equal(JSON.parse(none.stderr.trim()).code, 'ERR_REF_NOT_FOUND')
    const bad = await node('a').cli(['network', 'members', 'add', 'not a peer', '--json'])
    assert.equal(bad.code, 2)
    const res = await fetch(`${node('a').info.url}/api/v1/consensus/shared/nothing-here`)
    assert.equal(res.status, 404)
    assert.equal((await res.json() as { code: string }).code, 'ERR_REF_NOT_FOUND')
  })

  it('members: only listed peers vote; a node that is not a member has weight 0', async () => {
    const a = node('a').info.peerId
    const b = node('b').info.peerId
    const c = node('c').info.peerId
    // A branch of this test's own, on which c proposes a head (following a's is proposing it).
    await ok('a', ['checkout', '--create', 'shared/members'])
    await put('a', { id: 'topic/m', kind: 'fact', title: 'for the members' })
    const head = (await ok('a', ['commit', '-m', 'start of shared/members'])).commit as string
    await until('a has c\'s proposal on shared/members', async () => {
      const r = await node('a').cli(['consensus', 'shared/members', '--json'])
      return r.code === 0 && (r.json as { proposals: Array<{ node: string, head: string }> }).proposals.some(p => p.node === c && p.head === head)
    })
    assert.deepEqual((await ok('a', ['network', 'members', 'add', a])).members, [a])
    assert.deepEqual(new Set((await ok('a', ['network', 'members', 'add', b])).members), new Set([a, b]))
    const d = await ok('a', ['consensus', 'shared/members'])
    assert.equal(d.proposals.find((p: { node: string }) => p.node === c)?.weight, 0)
    assert.ok(d.votes.every((v: { nodes: string[] }) => !v.nodes.includes(c)))
    assert.deepEqual((await ok('a', ['network', 'members', 'rm', b])).members, [a])
    assert.deepEqual((await ok('a', ['network', 'members', 'rm', a])).members, [])
  })
})
