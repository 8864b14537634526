import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import { createCommit } from '../../src/core/commit.ts'
import { frameVersions } from '../../src/core/frame-history.ts'
import type { Signer } from '../../src/core/signing.ts'
import { buildTree, mutateTree, treeNodes } from '../../src/core/tree/index.ts'
import { MemoryStore, valueCid } from './tree/helpers.ts'

async function signer (): Promise<Signer> {
  const key = await generateKeyPair('Ed25519')
  return { id: peerIdFromPrivateKey(key).toString(), sign: (b) => key.sign(b) }
}

const key = (i: number): string => `k/${String(i).padStart(6, '0')}`

describe('frameVersions: the versions of one id, read one lookup per commit', () => {
  it('lists each change newest first, skips commits that leave the id alone, and reads O(commits · log n) blocks', async () => {
    const me = await signer()
    const store = new MemoryStore()
    const n = 20_000
    const built = buildTree(Array.from({ length: n }, (_, i) => ({ key: key(i), value: valueCid(i) })))
    store.put(built.blocks)
    let tree = built.root
    let time = 1
    const commit = async (parents: CID[], message: string): Promise<CID> => {
      const c = await createCommit(me, { tree, parents, message, time: time++ })
      store.blocks.set(c.cid.toString(), c.bytes)
      return c.cid
    }
    const change = async (k: string, value: CID | null): Promise<void> => {
      const r = await mutateTree(store, tree, [{ key: k, value }])
      store.put(r.blocks)
      tree = r.root
    }
    let head = await commit([], 'import')
    const target = key(4242)
    const expected: Array<{ message: string, cid: string | null }> = [{ message: 'import', cid: valueCid(4242).toString() }]
    for (let v = 0; v < 30; v++) {
      // One commit that changes the id, and one that changes another id only.
      const value = v === 10 ? null : valueCid(`v${v}`)
      await change(target, value)
      head = await commit([head], `version ${v}`)
      expected.unshift({ message: `version ${v}`, cid: value?.toString() ?? null })
      await change(key(v * 7), valueCid(`other${v}`))
      head = await commit([head], `other ${v}`)
    }
    let depth = 0
    for await (const { node } of treeNodes(store, tree)) depth = Math.max(depth, node.level + 1)

    store.reads = 0
    const walked: string[] = []
    const versions = await Array.fromAsync(frameVersions(store, head, target, { onCommit: (cid) => walked.push(cid.toString()) }))
    assert.deepEqual(versions.map(v => ({ message: v.value.message, cid: v.cid?.toString() ?? null })), expected)
    assert.equal(walked.length, 61, 'every commit is walked once')
    // Per commit: the commit block, and the id's path in its tree (depth nodes); shared nodes cost nothing.
    assert.ok(store.reads <= walked.length * (1 + depth), `${store.reads} reads for ${walked.length} commits of depth ${depth}`)
    assert.ok(store.reads < n / 10, 'never a whole tree')

    store.reads = 0
    const two = await Array.fromAsync(frameVersions(store, head, target, { limit: 2 }))
    assert.deepEqual(two.map(v => v.value.message), ['version 29', 'version 28'])
    assert.ok(store.reads <= 5 * (1 + depth), `a limited walk stops early (${store.reads} reads)`)

    const none = await Array.fromAsync(frameVersions(store, head, 'absent/id'))
    assert.deepEqual(none, [])
  })

  it('follows the parent a merge took the version from (as git log with history simplification)', async () => {
    const me = await signer()
    const store = new MemoryStore()
    let time = 1
    const at = async (entries: Array<[string, number | string]>, parents: CID[], message: string): Promise<CID> => {
      const t = buildTree(entries.map(([k, v]) => ({ key: k, value: valueCid(v) })).sort((a, b) => a.key < b.key ? -1 : 1))
      store.put(t.blocks)
      const c = await createCommit(me, { tree: t.root, parents, message, time: time++ })
      store.blocks.set(c.cid.toString(), c.bytes)
      return c.cid
    }
    const base = await at([['x', 'a']], [], 'base')
    const side = await at([['x', 'b']], [base], 'side changes x')
    const main = await at([['x', 'a'], ['y', 1]], [base], 'main adds y')
    const merge = await at([['x', 'b'], ['y', 1]], [main, side], 'merge side')
    const versions = await Array.fromAsync(frameVersions(store, merge, 'x'))
    assert.deepEqual(versions.map(v => v.value.message), ['side changes x', 'base'])
    // A merge that holds a version none of its parents held is itself a version.
    const mixed = await at([['x', 'c'], ['y', 1]], [main, side], 'merge with a new x')
    assert.deepEqual((await Array.fromAsync(frameVersions(store, mixed, 'x'))).map(v => v.value.message), ['merge with a new x', 'side changes x', 'base'])
  })
})
