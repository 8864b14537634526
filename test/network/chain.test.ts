import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { signChainEntry, verifyChainEntry } from '../../src/core/chain-entry.ts'
import { encodeBlock } from '../../src/core/block.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { ed25519Signer } from '../../src/storage/ed25519-signer.ts'
import { blockKey } from '../../src/storage/level-db.ts'
import { tempDir } from '../helpers/repo.ts'
import { waitFor } from '../helpers/daemon.ts'

const cid = encodeBlock({ id: 'x', kind: 'fact' }).cid.toString()

async function signer (): Promise<ReturnType<typeof ed25519Signer>> {
  const key = await generateKeyPair('Ed25519')
  return ed25519Signer(peerIdFromPrivateKey(key).toString(), key)
}

describe('chain entries', () => {
  it('verify only when signed by the node they name, on that node\'s chain, with well-formed fields', async () => {
    const a = await signer()
    const b = await signer()
    const entry = await signChainEntry(a, { ref: { name: 'shared/main', head: cid }, sessions: { plan: [cid] } })
    assert.deepEqual(await verifyChainEntry(entry, a.id), entry)
    // Written on b's chain, or claiming to be b's: refused.
    await assert.rejects(verifyChainEntry(entry, b.id), { code: 'ERR_SIGNATURE_INVALID' })
    await assert.rejects(verifyChainEntry({ ...entry, node: b.id }), { code: 'ERR_SIGNATURE_INVALID' })
    // Any field changed after signing: refused.
    await assert.rejects(verifyChainEntry({ ...entry, ref: { name: 'shared/main', head: encodeBlock({ id: 'y', kind: 'fact' }).cid.toString() } }, a.id), { code: 'ERR_SIGNATURE_INVALID' })
    await assert.rejects(verifyChainEntry({ ...entry, time: entry.time + 1 }, a.id), { code: 'ERR_SIGNATURE_INVALID' })
    // Malformed: every one refused with the same code, never a crash.
    for (const bad of [null, 42, 'x', {}, { v: 2 }, { ...entry, sig: 'nope' }, { ...entry, ref: { name: 'main', head: cid } }, { ...entry, ref: { name: 'shared/x', head: 'not a cid' } },
      { ...entry, sessions: { plan: [] } }, { ...entry, sessions: { plan: 'x' } }, { ...entry, node: 'not-a-peer-id' }]) {
      await assert.rejects(verifyChainEntry(bad, a.id), { code: 'ERR_SIGNATURE_INVALID' }, JSON.stringify(bad))
    }
  })
})

describe('publishing', { timeout: 120_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let a: FramehubNode
  let b: FramehubNode

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-chain-'))
    const listen = ['/ip4/127.0.0.1/tcp/0']
    a = await createNode({ repo: join(dir, 'a'), create: true, network: { listen, network: 'chain-test' } })
    b = await createNode({ repo: join(dir, 'b'), create: true, network: { listen, network: 'chain-test', bootstrap: [a.network?.addresses()[0] as string] } })
  })
  after(async () => {
    await b?.close()
    await a?.close()
    await cleanup()
  })

  it('automatic publishing checks only what was added since the last published head, and refuses a bad addition', async () => {
    await a.refs.checkout('shared/inc', { create: true })
    for (let i = 0; i < 200; i++) await a.frames.put({ id: `inc/${i}`, kind: 'fact', body: i })
    await a.commits.commit({ message: 'base' })
    const full = await a.replication!.publish({ branch: 'shared/inc' })
    const added = await a.frames.put({ id: 'inc/new', kind: 'fact', body: 'new' })
    await a.commits.commit({ message: 'one more' })
    const incremental = await a.replication!.publish({ branch: 'shared/inc', incremental: true })
    assert.ok(incremental.checked < full.checked / 10, `checked ${incremental.checked} blocks, the whole DAG has ${full.checked}`)
    await a.frames.put({ id: 'inc/bad', kind: 'fact', body: 'bad' })
    await a.commits.commit({ message: 'bad' })
    const bad = (await a.frames.get('inc/bad')).cid
    const bytes = await a.repo.blocks.get(bad)
    await a.repo.db.blocks.put(blockKey(bad), new TextEncoder().encode('garbage'))
    try {
      await assert.rejects(a.replication!.publish({ branch: 'shared/inc', incremental: true }), { code: 'ERR_COHERENCE' })
    } finally {
      // Repaired: the next test's branch starts from this one.
      await a.repo.db.blocks.put(blockKey(bad), bytes)
    }
    assert.ok(added != null)
  })

  it('nothing that fails the coherence check is published', async () => {
    await a.refs.checkout('shared/main', { create: true })
    const put = await a.frames.put({ id: 'kept', kind: 'fact', title: 'v1' })
    const good = await a.commits.commit({ message: 'good' })
    await waitFor('b follows a', async () => (await b.refs.branchHead('shared/main'))?.equals(good.commit) === true ? true : undefined)
    const before = (await a.network!.ownEntries()).length
    // A block of the branch goes bad on disk: publishing must refuse, and append nothing.
    const bytes = await a.repo.blocks.get(put.cid)
    await a.repo.db.blocks.put(blockKey(put.cid), new TextEncoder().encode('garbage'))
    try {
      await assert.rejects(a.replication!.publish({ branch: 'shared/main' }), { code: 'ERR_COHERENCE' })
      assert.equal((await a.network!.ownEntries()).length, before)
    } finally {
      // Repaired: the next test's branch starts from this one.
      await a.repo.db.blocks.put(blockKey(put.cid), bytes)
    }
  })

  it('another node cannot write to a chain it does not own (OrbitDB access control)', async () => {
    const aChain = a.network!.chain
    const { createOrbitDB } = await import('@orbitdb/core')
    // A node of another network (so it does not follow a's chain by itself), connected to a.
    const c = await createNode({ repo: join(dir, 'c'), create: true, network: { listen: ['/ip4/127.0.0.1/tcp/0'], network: 'elsewhere', bootstrap: [a.network?.addresses()[0] as string] } })
    const intruder = await createOrbitDB({ ipfs: await c.repo.helia(), directory: join(dir, 'intruder-orbitdb'), id: 'intruder' })
    try {
      const db = await intruder.open(aChain)
      const entry = await signChainEntry(await signer(), { ref: { name: 'shared/main', head: cid } })
      await assert.rejects(db.add(entry), /not allowed to write/)
    } finally {
      await intruder.stop()
      await c.close()
    }
  })

  it('a roster message with a bad signature is ignored', async () => {
    // a has heard b's own announcement first (the roster's pubsub mesh is up).
    await waitFor('a knows b\'s chain', async () => a.network!.peers().find(p => p.peer === b.peerId)?.chain === b.network!.chain ? true : undefined)
    const libp2p = (await b.repo.helia() as unknown as { libp2p: { services: { pubsub: { publish: (t: string, d: Uint8Array) => Promise<unknown> } } } }).libp2p
    const forger = await signer()
    // Claims that b's chain is somewhere else, signed by a key that is not b's.
    const value = { node: b.peerId, chain: '/orbitdb/zdpuForged', time: Date.now(), sig: (await signChainEntry(forger, {})).sig }
    await libp2p.services.pubsub.publish('framehub/chain-test/roster', dagCbor.encode(value)).catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 500))
    const seen = a.network!.peers().find(p => p.peer === b.peerId)
    assert.ok(seen != null, 'a keeps its connection to b')
    assert.equal(seen.chain, b.network!.chain, 'a still follows b\'s real chain')
  })
})
