import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createCommit } from '../../src/core/commit.ts'
import { encodeFrame } from '../../src/core/frame.ts'
import { mutateTree } from '../../src/core/tree/index.ts'
import type { FramehubNode } from '../../src/node.ts'
import { ed25519Signer } from '../../src/storage/ed25519-signer.ts'
import { encodeCid, keys } from '../../src/storage/state.ts'
import { tempNode } from '../helpers/repo.ts'

/**
 * The consensus service on one node, offline: a peer's proposal is recorded as replication
 * records it (a remote-tracking ref to a commit signed by that peer, its blocks stored), and the
 * service decides, stores the decision, shows shadow frames and keeps the members.
 */
describe('consensus service', () => {
  let node: FramehubNode
  let cleanup: () => Promise<void>
  before(async () => { ({ node, cleanup } = await tempNode()) })
  after(async () => { await cleanup() })

  /** A peer commits `frames` on top of `parent` and publishes it (as replication would record it). */
  const peerCommit = async (parent: Awaited<ReturnType<FramehubNode['refs']['branchHead']>>, frames: Array<{ id: string, title: string }>): Promise<{ peer: string, head: string }> => {
    const key = await generateKeyPair('Ed25519')
    const signer = ed25519Signer(peerIdFromPrivateKey(key).toString(), key)
    const batch = node.repo.batch()
    const encoded = frames.map(f => ({ id: f.id, ...encodeFrame({ id: f.id, kind: 'fact', title: f.title }) }))
    for (const e of encoded) batch.putBlock(e.cid, e.bytes)
    const parentTree = (await node.refs.resolveTree(parent?.toString())).tree
    const tree = await mutateTree(node.repo.blocks, parentTree, encoded.map(e => ({ key: e.id, value: e.cid })))
    for (const b of tree.blocks) batch.putBlock(b.cid, b.bytes)
    const commit = await createCommit(signer, { tree: tree.root, parents: parent == null ? [] : [parent], message: 'peer' })
    batch.putBlock(commit.cid, commit.bytes)
    batch.putState(keys.remote(signer.id, 'shared/main'), encodeCid(commit.cid))
    await batch.write()
    return { peer: signer.id, head: commit.cid.toString() }
  }

  it('decides between this node and a peer, stores the decision, and lists shadow frames', async () => {
    await node.refs.checkout('shared/main', { create: true })
    await node.frames.put({ id: 'c/base', kind: 'fact', title: 'base' })
    const base = (await node.commits.commit({ message: 'base' })).commit
    await node.frames.put({ id: 'c/x', kind: 'fact', title: 'x here' })
    const mine = (await node.commits.commit({ message: 'mine' })).commit
    const peer = await peerCommit(base, [{ id: 'c/x', title: 'x there' }, { id: 'c/y', title: 'y there' }])

    const d = await node.consensus.show('shared/main')
    assert.equal(d.branch, 'shared/main')
    assert.deepEqual(new Set(d.maximal), new Set([mine.toString(), peer.head]))
    assert.equal(d.proposals.length, 2)
    assert.equal(d.forks.length, 1)
    assert.equal(d.forks[0]?.id, 'c/x')
    assert.equal(d.convergence, 0, 'nobody proposes the consensus commit yet')
    assert.ok(d.conflictRate > 0)
    // Equal votes: the candidates tie on score and height, so the smaller CID bytes go first.
    assert.equal(d.candidates[0]?.score, d.candidates[1]?.score)
    // The decision record and the consensus commit are stored blocks; the commit verifies.
    const shown = await node.commits.show(d.decision)
    assert.ok(shown != null)
    assert.equal((await node.verifier.verify(d.head)).ok, true)
    // Deciding again on the same proposals gives the same record.
    assert.equal((await node.consensus.show('shared/main')).decision, d.decision)

    // Shadow: what this node has that the canonical head does not. The head merges both sides,
    // so only the staged change is unconfirmed.
    assert.deepEqual((await node.consensus.shadow('shared/main')).frames.filter(f => f.id !== 'c/x'), [])
    await node.frames.put({ id: 'c/staged', kind: 'fact', title: 'staged' })
    const shadow = await node.consensus.shadow('shared/main')
    assert.equal(shadow.head, d.head)
    assert.ok(shadow.frames.some(f => f.id === 'c/staged' && f.canonical === null && f.confirmed === false))
    // Reads by id on the shared branch say whether the canonical head holds the version.
    assert.equal((await node.frames.get('c/staged')).confirmed, false)
    assert.equal((await node.frames.get('c/base')).confirmed, true)
    assert.equal((await node.frames.get('c/base', { ref: 'shared/main' })).confirmed, true)
    assert.equal((await node.frames.get('c/base', { ref: 'shared/main~1' })).confirmed, undefined, 'not the branch itself')
    assert.equal((await node.frames.get((await node.frames.get('c/base')).cid.toString())).confirmed, undefined, 'read by CID')

    const status = await node.consensus.status()
    assert.equal(status.peers, 2)
    assert.equal(status.branches[0]?.branch, 'shared/main')
    assert.equal(status.branches[0]?.local, mine.toString())
  })

  it('refuses what is not a shared branch or has no proposal, and bad member ids', async () => {
    await assert.rejects(node.consensus.show('main'), { code: 'ERR_USAGE' })
    await assert.rejects(node.consensus.show('shared/none'), { code: 'ERR_REF_NOT_FOUND' })
    await assert.rejects(node.consensus.show('shared/bad name'), (err: { code?: string }) => err.code === 'ERR_REF_INVALID' || err.code === 'ERR_USAGE')
    for (const bad of ['', 'x', 'not a peer id', '0OIl'.repeat(10)]) await assert.rejects(node.consensus.addMember(bad), { code: 'ERR_USAGE' }, bad)
  })

  it('members: once any is listed, only members vote', async () => {
    const d0 = await node.consensus.show('shared/main')
    const peer = d0.proposals.find(p => p.node !== node.peerId)?.node as string
    assert.deepEqual(await node.consensus.addMember(node.peerId), [node.peerId])
    const d1 = await node.consensus.show('shared/main')
    assert.equal(d1.proposals.find(p => p.node === peer)?.weight, 0)
    assert.equal(d1.head, d0.maximal.find(m => d1.candidates.some(c => c.commit === m && c.node === node.peerId)))
    assert.deepEqual(await node.consensus.removeMember(node.peerId), [])
    assert.equal((await node.consensus.show('shared/main')).head, d0.head)
  })

  it('members have weights: a heavier member outvotes, weight 0 keeps a member listed without a vote, bad weights are refused', async () => {
    const d0 = await node.consensus.show('shared/main')
    const peer = d0.proposals.find(p => p.node !== node.peerId)?.node as string
    const peerHead = d0.maximal.find(m => d0.candidates.some(c => c.commit === m && c.node === peer)) as string
    const mineHead = d0.maximal.find(m => m !== peerHead) as string
    await node.consensus.addMember(node.peerId)
    await node.consensus.addMember(peer, { weight: 3 })
    assert.deepEqual(await node.consensus.memberWeights(), { [node.peerId]: 1, [peer]: 3 })
    const d1 = await node.consensus.show('shared/main')
    assert.equal(d1.proposals.find(p => p.node === peer)?.weight, 3)
    // Both heads are still maximal (neither contains the other); the heavier vote ranks its head first.
    assert.equal(d1.candidates[0]?.commit, peerHead)
    assert.ok((d1.candidates[0]?.score ?? 0) > (d1.candidates[1]?.score ?? 0))
    assert.deepEqual(d1.maximal, [peerHead, mineHead])
    await node.consensus.addMember(peer, { weight: 0 })
    assert.equal((await node.consensus.show('shared/main')).proposals.find(p => p.node === peer)?.weight, 0)
    assert.equal((await node.consensus.fingerprints()).find(f => f.peer === peer)?.weight ?? 0, 0)
    for (const bad of [-1, Number.NaN, Infinity, 1_000_001, '2' as unknown as number]) {
      await assert.rejects(node.consensus.addMember(peer, { weight: bad }), { code: 'ERR_USAGE' }, String(bad))
    }
    assert.equal((await node.consensus.memberWeights())[peer], 0, 'a refused weight changes nothing')
    await node.consensus.removeMember(peer)
    await node.consensus.removeMember(node.peerId)
    assert.deepEqual(await node.consensus.memberWeights(), {})
  })
})
