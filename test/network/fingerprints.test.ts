import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createCommit } from '../../src/core/commit.ts'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { waitFor } from '../helpers/daemon.ts'
import { tempDir } from '../helpers/repo.ts'

/**
 * A member that publishes a head failing the coherence check (here: a commit whose signature
 * is not its author's) is outvoted: the head is never recorded, and its vote weighs 0 until it
 * publishes a good one. Two networked nodes in-process on loopback; the bad head goes out on the
 * real chain, past the publisher's own check.
 */
describe('fingerprints', { timeout: 180_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let a: FramehubNode
  let b: FramehubNode

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-fingerprints-'))
    const listen = ['/ip4/127.0.0.1/tcp/0']
    a = await createNode({ repo: join(dir, 'a'), create: true, network: { listen, network: 'fp-test' } })
    b = await createNode({ repo: join(dir, 'b'), create: true, network: { listen, network: 'fp-test', bootstrap: [a.network?.addresses()[0] as string] } })
  })

  after(async () => {
    await b?.close()
    await a?.close()
    await cleanup()
  })

  it('a head failing the coherence check gives its publisher weight 0 until it publishes a good one', async () => {
    await a.refs.checkout('shared/fp', { create: true })
    await a.frames.put({ id: 'fp/one', kind: 'fact' })
    const good = (await a.commits.commit({ message: 'good' })).commit
    await waitFor('b has a\'s head', async () => (await b.refs.branchHead('shared/fp'))?.equals(good) === true ? true : undefined, 60_000, 100)
    const fp = async (): Promise<Awaited<ReturnType<FramehubNode['consensus']['fingerprints']>>[number] | undefined> =>
      (await b.consensus.fingerprints()).find(f => f.peer === a.peerId)
    // The fingerprint is awaited rather than read at once (a loaded run failed here once, within
    // a second of the start); what is checked is its weight.
    await waitFor('b has a\'s fingerprint', async () => (await fp()) != null ? true : undefined, 10_000, 50)
    assert.equal((await fp())?.weight, 1)

    // A commit claiming a's authorship with a signature that is not a's.
    const tree = await a.refs.workingTree('shared/fp')
    const forged = await createCommit({ id: a.peerId, sign: () => new Uint8Array(64).fill(7) }, { tree, parents: [good], message: 'forged' })
    await a.repo.batch().putBlock(forged.cid, forged.bytes).write()
    await a.network?.publish({ ref: { name: 'shared/fp', head: forged.cid.toString() } })
    await waitFor('b marks a failing', async () => (await fp())?.failing === true ? true : undefined, 60_000, 100)
    const failing = await fp()
    assert.equal(failing?.weight, 0)
    assert.equal(failing?.coherenceFailures, 1)
    const remote = (await b.replication!.remotes()).find(r => r.peer === a.peerId && r.ref === 'shared/fp')
    assert.equal(remote?.head.toString(), good.toString(), 'the bad head is never recorded')
    const decided = await b.consensus.show('shared/fp')
    assert.equal(decided.head, good.toString())
    assert.equal(decided.proposals.find(p => p.node === a.peerId)?.weight, 0)
    assert.ok(decided.votes.every(v => !v.nodes.includes(a.peerId)))

    // A good head again: weight 1, and b follows it.
    await a.frames.put({ id: 'fp/two', kind: 'fact' })
    const better = (await a.commits.commit({ message: 'good again' })).commit
    await waitFor('b follows the good head', async () => (await b.refs.branchHead('shared/fp'))?.equals(better) === true ? true : undefined, 60_000, 100)
    assert.equal((await fp())?.weight, 1)
    assert.equal((await fp())?.failing, false)
    assert.ok(((await fp())?.canonical ?? 0) >= 1)

    // GET /api/v1/peers shows each connected peer's fingerprint.
    const app = await createGateway(b, { logger: false })
    try {
      const res = await app.inject({ url: '/api/v1/peers' })
      assert.equal(res.statusCode, 200)
      const peer = (res.json() as { peers: Array<{ peer: string, fingerprint?: { weight: number, proposals: number } }> }).peers.find(p => p.peer === a.peerId)
      assert.equal(peer?.fingerprint?.weight, 1)
      assert.ok((peer?.fingerprint?.proposals ?? 0) >= 2)
    } finally {
      await app.close()
    }
  })
})
