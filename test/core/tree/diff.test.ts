import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { TreeError, buildTree, compareKeys, diffTrees, emptyTree, encodeTreeNode, mutateTree } from '../../../src/core/tree/index.ts'
import type { TreeChange } from '../../../src/core/tree/index.ts'
import { BlockMissingError, MemoryStore, bulkKeys, depthOf, keyArb, prng, toEntries, valueCid } from './helpers.ts'

type Row = [string, string | null, string | null]

async function diffRows (store: MemoryStore, a: CID, b: CID): Promise<Row[]> {
  const rows: Row[] = []
  for await (const d of diffTrees(store, a, b)) rows.push([d.key, d.before?.toString() ?? null, d.after?.toString() ?? null])
  return rows
}

function modelDiff (a: Map<string, CID>, b: Map<string, CID>): Row[] {
  const rows: Row[] = []
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const before = a.get(key)?.toString() ?? null
    const after = b.get(key)?.toString() ?? null
    if (before !== after) rows.push([key, before, after])
  }
  return rows.sort((x, y) => compareKeys(x[0], y[0]))
}

describe('diffTrees', () => {
  it('equals the set difference of the two maps, in key order', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(keyArb, { maxLength: 30 }), fc.oneof(fc.nat(60), fc.nat(3000)), fc.integer(),
      fc.double({ min: 0, max: 1, noNaN: true }), fc.oneof(fc.nat(5), fc.nat(200)), fc.boolean(),
      async (special, bulk, seed, keepRate, changes, crossCheck) => {
        const random = prng(seed)
        const pool = [...new Set([...special, ...bulkKeys(seed, bulk)])]
        const a = new Map<string, CID>()
        for (const key of pool) if (random() < 0.6) a.set(key, valueCid(Math.floor(random() * 4)))
        // b: either a few edits of a, or a loosely related set.
        const b = new Map(random() < keepRate ? [...a] : [...a].filter(() => random() < 0.5))
        for (let i = 0; i < changes && pool.length > 0; i++) {
          const key = pool[Math.floor(random() * pool.length)] as string
          const value = random() < 0.4 ? null : valueCid(Math.floor(random() * 4))
          if (value === null) b.delete(key)
          else b.set(key, value)
        }
        const store = new MemoryStore()
        const builtA = buildTree(toEntries(a))
        store.put(builtA.blocks)
        const builtB = buildTree(toEntries(b))
        store.put(builtB.blocks)
        const rootB = builtB.root
        if (crossCheck) {
          // Mutating a by exactly the differences gives b's root.
          const delta = modelDiff(a, b).map(([key]) => ({ key, value: b.get(key) ?? null }))
          assert.ok((await mutateTree(store, builtA.root, delta)).root.equals(rootB))
        }
        assert.deepEqual(await diffRows(store, builtA.root, rootB), modelDiff(a, b))
        assert.deepEqual(await diffRows(store, rootB, builtA.root), modelDiff(b, a))
        assert.deepEqual(await diffRows(store, builtA.root, builtA.root), [])
      }
    ), { numRuns: 150 })
  })

  it('reads O(changes · depth) nodes: 10 changes on a 100k-entry tree', async () => {
    const keys = bulkKeys(31, 100_000)
    const built = buildTree(keys.map((key, i) => ({ key, value: valueCid(i) })))
    const store = new MemoryStore()
    store.put(built.blocks)
    const depth = await depthOf(store, built.root)
    const random = prng(8)
    const changes: TreeChange[] = []
    for (let i = 0; i < 10; i++) {
      const key = keys[Math.floor(random() * keys.length)] as string
      changes.push(i % 3 === 0 ? { key, value: null } : i % 3 === 1 ? { key, value: valueCid(`changed-${i}`) } : { key: `${key}-added`, value: valueCid(`added-${i}`) })
    }
    const mutated = await mutateTree(store, built.root, changes)
    store.put(mutated.blocks)
    store.reads = 0
    const rows = await diffRows(store, built.root, mutated.root)
    assert.equal(rows.length, 10)
    assert.ok(store.reads < 200, `diff read ${store.reads} nodes`)
    assert.ok(store.reads <= 10 * depth * 2 + 10, `diff read ${store.reads} nodes (depth ${depth})`)
    store.reads = 0
    assert.deepEqual(await diffRows(store, built.root, built.root), [])
    assert.equal(store.reads, 0)
  })

  it('diffs against the empty tree', async () => {
    const store = new MemoryStore()
    const entries = bulkKeys(4, 200).map((key, i) => ({ key, value: valueCid(i) }))
    const built = buildTree(entries)
    store.put(built.blocks)
    store.put(emptyTree().blocks)
    const added = await diffRows(store, emptyTree().root, built.root)
    assert.equal(added.length, 200)
    assert.ok(added.every(([, before, after]) => before === null && after !== null))
    const removed = await diffRows(store, built.root, emptyTree().root)
    assert.ok(removed.every(([, before, after]) => before !== null && after === null))
  })

  it('throws TreeError for malformed trees and propagates reader errors', async () => {
    const store = new MemoryStore()
    const leaf = encodeTreeNode({ level: 0, keys: ['a', 'b'], values: [valueCid(1), valueCid(2)] })
    const other = encodeTreeNode({ level: 0, keys: ['m'], values: [valueCid(3)] })
    const bad = encodeTreeNode({ level: 1, keys: ['a', 'x'], values: [leaf.cid, other.cid] })
    const good = buildTree([{ key: 'a', value: valueCid(1) }])
    store.put([leaf, other, bad, ...good.blocks])
    await assert.rejects(diffRows(store, good.root, bad.cid), (err: unknown) => err instanceof TreeError && err.message.includes(other.cid.toString()))
    const missing = buildTree([{ key: 'q', value: valueCid(9) }]).root
    await assert.rejects(diffRows(store, good.root, missing), BlockMissingError)
  })
})
