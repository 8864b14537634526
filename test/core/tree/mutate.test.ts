import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { TreeError, buildTree, emptyTree, getEntry, mutateTree } from '../../../src/core/tree/index.ts'
import type { TreeChange, TreeResult } from '../../../src/core/tree/index.ts'
import { MemoryStore, allNodes, assertCanonical, bulkKeys, depthOf, keyArb, modelRoot, prng, shuffle, toEntries, valueCid } from './helpers.ts'

/** Applies a batch, checks the returned blocks are not in the old tree, are reachable and suffice, and stores them. */
async function apply (store: MemoryStore, root: CID, changes: TreeChange[]): Promise<TreeResult> {
  const before = new Set((await allNodes(store, root)).map(n => n.cid.toString()))
  const result = await mutateTree(store, root, changes)
  store.put(result.blocks)
  const reachable = new Set((await allNodes(store, result.root)).map(n => n.cid.toString()))
  for (const block of result.blocks) {
    assert.ok(reachable.has(block.cid.toString()), 'returned block is not reachable from the new root')
    assert.ok(!before.has(block.cid.toString()), 'returned block was already in the old tree')
  }
  assert.equal(new Set(result.blocks.map(b => b.cid.toString())).size, result.blocks.length)
  return result
}

describe('mutateTree', () => {
  it('is history independent: any sequence of batches gives the buildTree root', async () => {
    const batchArb = fc.record({
      size: fc.oneof(fc.nat(5), fc.nat(60), fc.nat(600)),
      removeRate: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
      seed: fc.integer()
    })
    const depths = new Map<number, number>()
    await fc.assert(fc.asyncProperty(
      fc.record({
        seed: fc.integer(),
        pool: fc.oneof(fc.nat(40), fc.nat(2500)),
        special: fc.uniqueArray(keyArb, { maxLength: 30 }),
        start: fc.constantFrom('empty', 'built'),
        batches: fc.array(batchArb, { minLength: 1, maxLength: 6 })
      }),
      async ({ seed, pool: poolSize, special, start, batches }) => {
        const pool = [...new Set([...special, ...bulkKeys(seed, poolSize)])]
        const random = prng(seed)
        const model = new Map<string, CID>()
        const store = new MemoryStore()
        let root: CID
        if (start === 'built') {
          for (const key of pool) if (random() < 0.5) model.set(key, valueCid(Math.floor(random() * 8)))
          const built = buildTree(toEntries(model))
          store.put(built.blocks)
          root = built.root
        } else {
          root = emptyTree().root
        }
        for (const batch of batches) {
          const r = prng(batch.seed)
          const changes: TreeChange[] = []
          for (let i = 0; i < batch.size && pool.length > 0; i++) {
            const key = pool[Math.floor(r() * pool.length)] as string
            const value = r() < batch.removeRate ? null : valueCid(Math.floor(r() * 8))
            changes.push({ key, value })
            if (value === null) model.delete(key)
            else model.set(key, value)
          }
          root = (await apply(store, root, changes)).root
          assert.ok(root.equals(modelRoot(model)), 'root differs from buildTree of the same set')
        }
        await assertCanonical(store, root)
        const depth = await depthOf(store, root)
        depths.set(depth, (depths.get(depth) ?? 0) + 1)
      }
    ), { numRuns: 200 })
    if (process.env.TREE_TEST_STATS !== undefined) console.log('final depths', depths)
    assert.ok([...depths.keys()].some(d => d >= 3), 'no run reached three levels')
  })

  it('inserts, then removes everything in random batches, ending at the empty tree', async () => {
    const random = prng(42)
    const keys = bulkKeys(42, 3000)
    const store = new MemoryStore()
    let root = emptyTree().root
    const model = new Map<string, CID>()
    for (let i = 0; i < keys.length;) {
      const size = 1 + Math.floor(random() * 400)
      const batch = keys.slice(i, i + size).map((key, j) => ({ key, value: valueCid(i + j) }))
      for (const c of batch) model.set(c.key, c.value)
      root = (await apply(store, root, shuffle(batch, random))).root
      i += size
    }
    assert.ok(root.equals(modelRoot(model)))
    const order = shuffle([...keys], random)
    for (let i = 0; i < order.length;) {
      const size = 1 + Math.floor(random() * 500)
      const batch = order.slice(i, i + size)
      for (const key of batch) model.delete(key)
      root = (await apply(store, root, batch.map(key => ({ key, value: null })))).root
      assert.ok(root.equals(modelRoot(model)))
      i += size
    }
    assert.ok(root.equals(emptyTree().root))
  })

  it('collapses to a lower root when one batch removes most of a deep tree', async () => {
    const keys = bulkKeys(17, 5000)
    const model = new Map(keys.map((key, i) => [key, valueCid(i)]))
    const built = buildTree(toEntries(model))
    for (const keep of [0, 1, 2, 3, 40, 200]) {
      const store = new MemoryStore()
      store.put(built.blocks)
      const kept = new Map([...model].slice(0, keep))
      const result = await apply(store, built.root, keys.slice(keep).map(key => ({ key, value: null })))
      assert.ok(result.root.equals(modelRoot(kept)), `keeping ${keep}`)
      await assertCanonical(store, result.root)
    }
  })

  it('keeps the last change per key, ignores no-ops, and accepts unsorted input', async () => {
    const entries = bulkKeys(3, 500).map((key, i) => ({ key, value: valueCid(i) }))
    const built = buildTree(entries)
    const store = new MemoryStore()
    store.put(built.blocks)
    const same = await mutateTree(store, built.root, [{ key: 'absent-key', value: null }, { key: entries[3]!.key, value: entries[3]!.value }])
    assert.ok(same.root.equals(built.root))
    assert.equal(same.blocks.length, 0)
    const none = await mutateTree(store, built.root, [])
    assert.ok(none.root.equals(built.root))
    const result = await apply(store, built.root, [
      { key: 'zz-new', value: valueCid('a') },
      { key: entries[0]!.key, value: null },
      { key: 'zz-new', value: valueCid('b') },
      { key: entries[0]!.key, value: valueCid('c') },
      { key: 'aa-gone', value: valueCid('d') },
      { key: 'aa-gone', value: null }
    ])
    assert.ok((await getEntry(store, result.root, 'zz-new'))?.equals(valueCid('b')))
    assert.ok((await getEntry(store, result.root, entries[0]!.key))?.equals(valueCid('c')))
    assert.equal(await getEntry(store, result.root, 'aa-gone'), undefined)
  })

  it('reads and writes O(depth) nodes for one change on a 100k-entry tree', async () => {
    const keys = bulkKeys(11, 100_000)
    const built = buildTree(keys.map((key, i) => ({ key, value: valueCid(i) })))
    const store = new MemoryStore()
    store.put(built.blocks)
    const depth = await depthOf(store, built.root)
    const random = prng(5)
    const changes: TreeChange[] = [{ key: 'new-key', value: valueCid('x') }]
    for (let i = 0; i < 20; i++) {
      const key = keys[Math.floor(random() * keys.length)] as string
      changes.push(i % 2 === 0 ? { key, value: null } : { key, value: valueCid(`y${i}`) })
    }
    for (const change of changes) {
      store.reads = 0
      const result = await mutateTree(store, built.root, [change])
      assert.ok(store.reads <= 2 * depth + 2, `one change read ${store.reads} nodes (depth ${depth})`)
      assert.ok(result.blocks.length <= 2 * depth + 2, `one change wrote ${result.blocks.length} nodes (depth ${depth})`)
    }
    store.reads = 0
    const batch = changes.slice(1, 11)
    const result = await mutateTree(store, built.root, batch)
    assert.ok(store.reads <= 10 * (2 * depth + 2), `10 changes read ${store.reads} nodes`)
    const model = new Map(keys.map((key, i) => [key, valueCid(i)]))
    for (const c of batch) {
      if (c.value === null) model.delete(c.key)
      else model.set(c.key, c.value)
    }
    assert.ok(result.root.equals(modelRoot(model)))
  })

  it('rejects bad changes with TreeInputError and propagates reader errors unchanged', async () => {
    const built = buildTree([{ key: 'a', value: valueCid(1) }])
    const store = new MemoryStore()
    store.put(built.blocks)
    for (const change of [{ key: 'x\udc00', value: null }, { key: 5, value: null }, { key: 'a', value: 'bafy' }]) {
      await assert.rejects(mutateTree(store, built.root, [change as unknown as TreeChange]), (err: unknown) =>
        err instanceof TreeError && err.code === 'ERR_TREE_INPUT_INVALID')
    }
    const missing = buildTree([{ key: 'b', value: valueCid(2) }]).root
    const failure = new Error('boom')
    await assert.rejects(mutateTree({ get: async () => { throw failure } }, missing, [{ key: 'c', value: null }]), (err: unknown) => err === failure)
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(mutateTree(store, built.root, [{ key: 'c', value: null }], { signal: controller.signal }), { name: 'AbortError' })
  })
})
