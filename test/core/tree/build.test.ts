import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { TreeError, buildTree, buildTreeOfPacked, compareKeys, decodeTreeNode, emptyTree, leafStart, packedLeavesOf, packLeaves, treeAbove, unpackLeaves } from '../../../src/core/tree/index.ts'
import type { TreeEntry } from '../../../src/core/tree/index.ts'
import { MemoryStore, allNodes, assertCanonical, bulkKeys, keyArb, prng, shuffle, valueCid } from './helpers.ts'

describe('buildTree', () => {
  it('builds the empty tree from no entries', () => {
    const built = buildTree([])
    assert.ok(built.root.equals(emptyTree().root))
    assert.equal(built.blocks.length, 1)
  })

  it('gives the same root for any input order and returns exactly the reachable nodes', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(keyArb, { maxLength: 60 }), fc.nat(3000), fc.integer(),
      async (special, bulk, seed) => {
        const keys = [...new Set([...special, ...bulkKeys(seed, bulk)])]
        const entries = keys.map((key, i) => ({ key, value: valueCid(i) }))
        const built = buildTree(entries)
        const again = buildTree(shuffle([...entries], prng(seed + 1)))
        assert.ok(built.root.equals(again.root))
        const store = new MemoryStore()
        store.put(built.blocks)
        const nodes = await allNodes(store, built.root)
        assert.equal(nodes.length, built.blocks.length)
        assert.equal(new Set(built.blocks.map(b => b.cid.toString())).size, built.blocks.length)
        for (const block of built.blocks) decodeTreeNode(block.bytes)
        await assertCanonical(store, built.root)
      }
    ), { numRuns: 60 })
  })

  it('builds the same tree from packed CIDs, without CID objects until a leaf\'s values are read', async () => {
    await fc.assert(fc.property(
      fc.uniqueArray(keyArb, { maxLength: 60 }), fc.nat(3000), fc.integer(),
      (special, bulk, seed) => {
        const keys = [...new Set([...special, ...bulkKeys(seed, bulk)])].sort(compareKeys)
        const values = keys.map((_, i) => valueCid(i))
        const width = values[0]?.bytes.byteLength ?? 36
        const packed = new Uint8Array(keys.length * width)
        values.forEach((v, i) => { packed.set(v.bytes, i * width) })
        const built = buildTree(keys.map((key, i) => ({ key, value: values[i] as (typeof values)[number] })))
        const fromPacked = buildTreeOfPacked(keys, packed, width)
        assert.ok(fromPacked.root.equals(built.root))
        assert.deepEqual(fromPacked.blocks.map(b => b.cid.toString()).sort(), built.blocks.map(b => b.cid.toString()).sort())
        for (const block of fromPacked.blocks) {
          const node = decodeTreeNode(block.bytes)
          if (node.level === 0) for (let i = 0; i < node.keys.length; i++) assert.ok(node.values[i]?.equals(values[keys.indexOf(node.keys[i] as string)]))
        }
      }
    ), { numRuns: 40 })
    const cids = new Uint8Array(72)
    assert.throws(() => buildTreeOfPacked(['b', 'a'], cids, 36), TreeError)
    assert.throws(() => buildTreeOfPacked(['a', 'a'], cids, 36), TreeError)
    assert.throws(() => buildTreeOfPacked(['a'], cids, 36), TreeError)
    assert.ok(buildTreeOfPacked([], new Uint8Array(0), 36).root.equals(emptyTree().root))
  })

  it('leaves made in two parts split at a leaf start (one part packed to cross threads) give the same tree and blocks', () => {
    fc.assert(fc.property(
      fc.uniqueArray(keyArb, { maxLength: 60 }), fc.nat(3000), fc.integer(), fc.double({ min: 0, max: 1, noNaN: true }),
      (special, bulk, seed, at) => {
        const keys = [...new Set([...special, ...bulkKeys(seed, bulk)])].sort(compareKeys)
        const width = 36
        const packed = new Uint8Array(keys.length * width)
        keys.forEach((_, i) => { packed.set(valueCid(i).bytes, i * width) })
        const whole = buildTreeOfPacked(keys, packed, width)
        const from = leafStart(keys, Math.floor(keys.length * at))
        if (from === 0 || from === keys.length) return
        const here = packedLeavesOf(keys, packed, width, 0, from)
        const apart = packLeaves(keys.slice(from), packed.slice(from * width), width)
        const there = unpackLeaves(keys, packed, width, from, structuredClone(apart))
        const { root, blocks } = treeAbove(here.concat(there))
        assert.ok(root.equals(whole.root))
        const made = [...here, ...there, ...blocks].map(b => b.cid.toString() + ':' + Buffer.from(b.bytes).toString('base64'))
        assert.deepEqual(made.sort(), whole.blocks.map(b => b.cid.toString() + ':' + Buffer.from(b.bytes).toString('base64')).sort())
      }
    ), { numRuns: 40 })
  })

  it('parts that are not whole leaves, leaves that do not cover their entries, keys out of order: TreeInputError', () => {
    const keys = bulkKeys(7, 2000).sort(compareKeys)
    const width = 36
    const packed = new Uint8Array(keys.length * width)
    const from = leafStart(keys, 1000)
    assert.ok(from > 1000 && from < keys.length)
    assert.throws(() => packedLeavesOf(keys, packed, width, 0, from - 1), TreeError)
    assert.throws(() => packedLeavesOf(keys, packed, width, 1, from), TreeError)
    assert.throws(() => packedLeavesOf(keys, packed, width, from, from), TreeError)
    assert.throws(() => packedLeavesOf(keys, packed.subarray(36), width, 0, from), TreeError)
    assert.throws(() => packLeaves(keys.slice(from).reverse(), packed.slice(from * width), width), TreeError)
    assert.throws(() => packLeaves(keys.slice(from), packed.slice(from * width + 36), width), TreeError)
    const apart = packLeaves(keys.slice(from), packed.slice(from * width), width)
    assert.throws(() => unpackLeaves(keys, packed, width, from - 1, apart), TreeError)
    assert.throws(() => unpackLeaves(keys, packed, width, from, { ...apart, counts: apart.counts.map(c => c + 1) }), TreeError)
    assert.throws(() => unpackLeaves(keys, packed, width, from, { ...apart, bytes: apart.bytes.subarray(1) }), TreeError)
    assert.throws(() => unpackLeaves(keys, packed, width, from, { ...apart, counts: apart.counts.subarray(1), ends: apart.ends.subarray(1) }), TreeError)
    const swapped = [...keys]
    ;[swapped[0], swapped[1]] = [swapped[1] as string, swapped[0] as string]
    assert.throws(() => packedLeavesOf(swapped, packed, width, 0, from), TreeError)
  })

  it('builds several levels for a large set', async () => {
    const keys = bulkKeys(7, 50_000)
    const built = buildTree(keys.map((key, i) => ({ key, value: valueCid(i) })))
    const store = new MemoryStore()
    store.put(built.blocks)
    const nodes = await allNodes(store, built.root)
    assert.ok((nodes[0]?.node.level ?? 0) >= 2)
    await assertCanonical(store, built.root)
  })

  it('rejects bad input with TreeInputError (a TreeError)', () => {
    const v = valueCid(1)
    const check = (entries: TreeEntry[]): void => {
      assert.throws(() => buildTree(entries), (err: unknown) =>
        err instanceof TreeError && err.code === 'ERR_TREE_INPUT_INVALID' && err.name === 'TreeInputError')
    }
    check([{ key: 'a', value: v }, { key: 'b', value: v }, { key: 'a', value: valueCid(2) }])
    check([{ key: 'b', value: v }, { key: 'a', value: v }, { key: 'b', value: v }])
    check([{ key: 'x\ud800', value: v }])
    check([{ key: '\ufeffx', value: v }])
    check([{ key: 1 as unknown as string, value: v }])
    check([{ key: 'a', value: 'bafy' as unknown as TreeEntry['value'] }])
  })
})
