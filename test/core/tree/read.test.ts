import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { TreeError, buildTree, compareKeys, countEntries, emptyTree, encodeTreeNode, entries, getEntry, treeNodes } from '../../../src/core/tree/index.ts'
import type { TreeEntry, TreeRangeOptions } from '../../../src/core/tree/index.ts'
import { BlockMissingError, MemoryStore, allNodes, bulkKeys, depthOf, keyArb, prng, valueCid } from './helpers.ts'

async function collect (iterable: AsyncIterable<TreeEntry>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = []
  for await (const { key, value } of iterable) out.push([key, value.toString()])
  return out
}

function modelRange (model: Map<string, CID>, { gte, lt, prefix }: TreeRangeOptions): Array<[string, string]> {
  return [...model]
    .filter(([key]) => (gte === undefined || compareKeys(key, gte) >= 0) && (lt === undefined || compareKeys(key, lt) < 0) && (prefix === undefined || key.startsWith(prefix)))
    .sort((a, b) => compareKeys(a[0], b[0]))
    .map(([key, value]) => [key, value.toString()])
}

describe('reading a tree', () => {
  it('getEntry, entries (ranges, prefixes) and countEntries agree with a Map', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(keyArb, { maxLength: 40 }), fc.oneof(fc.nat(50), fc.nat(3000)), fc.integer(),
      fc.array(fc.record({ gte: fc.option(keyArb, { nil: undefined }), lt: fc.option(keyArb, { nil: undefined }), prefix: fc.option(keyArb, { nil: undefined }), pick: fc.nat(), cut: fc.nat(4) }), { minLength: 1, maxLength: 8 }),
      async (special, bulk, seed, queries) => {
        const keys = [...new Set([...special, ...bulkKeys(seed, bulk)])]
        const model = new Map(keys.map((key, i) => [key, valueCid(i)]))
        const built = buildTree([...model].map(([key, value]) => ({ key, value })))
        const store = new MemoryStore()
        store.put(built.blocks)
        assert.equal(await countEntries(store, built.root), model.size)
        assert.deepEqual(await collect(entries(store, built.root)), modelRange(model, {}))
        const random = prng(seed)
        for (let i = 0; i < 20; i++) {
          const key = random() < 0.7 && keys.length > 0 ? keys[Math.floor(random() * keys.length)] as string : `absent-${i}`
          assert.equal((await getEntry(store, built.root, key))?.toString(), model.get(key)?.toString())
        }
        for (const q of queries) {
          // Bounds taken from existing keys (and their prefixes) hit the edges of nodes.
          const existing = keys.length === 0 ? undefined : keys[q.pick % keys.length]
          const options: TreeRangeOptions = { ...q }
          if (existing !== undefined && q.cut > 0) {
            const chars = [...existing]
            const stem = chars.slice(0, Math.max(0, chars.length - q.cut + 1)).join('')
            if (q.cut % 2 === 0) options.prefix = stem
            else options.gte = stem
          }
          delete (options as { pick?: number }).pick
          delete (options as { cut?: number }).cut
          assert.deepEqual(await collect(entries(store, built.root, options)), modelRange(model, options), JSON.stringify(options))
        }
      }
    ), { numRuns: 100 })
  })

  it('reads one node per level for getEntry and only the nodes of a range', async () => {
    const keys = bulkKeys(21, 100_000)
    const built = buildTree(keys.map((key, i) => ({ key, value: valueCid(i) })))
    const store = new MemoryStore()
    store.put(built.blocks)
    const depth = await depthOf(store, built.root)
    store.reads = 0
    assert.ok((await getEntry(store, built.root, keys[123] as string))?.equals(valueCid(123)))
    assert.equal(store.reads, depth)
    const sorted = [...keys].sort(compareKeys)
    store.reads = 0
    const slice = await collect(entries(store, built.root, { gte: sorted[5000], lt: sorted[5100] }))
    assert.equal(slice.length, 100)
    assert.ok(store.reads <= depth + 10, `range read ${store.reads} nodes`)
    store.reads = 0
    const prefixed = await collect(entries(store, built.root, { prefix: sorted[40_000]?.slice(0, -1) }))
    assert.ok(prefixed.length >= 1)
    assert.ok(store.reads <= 2 * depth + 4, `prefix read ${store.reads} nodes`)
  })

  it('visits every node once in pre-order with children in key order', async () => {
    const keys = bulkKeys(9, 5000)
    const built = buildTree(keys.map((key, i) => ({ key, value: valueCid(i) })))
    const store = new MemoryStore()
    store.put(built.blocks)
    const nodes = await allNodes(store, built.root)
    assert.equal(nodes.length, built.blocks.length)
    assert.ok(nodes[0]?.cid.equals(built.root))
    // Pre-order: the first keys of the leaves, in visiting order, are ascending.
    const leafFirstKeys = nodes.filter(n => n.node.level === 0).map(n => n.node.keys[0] as string)
    assert.deepEqual(leafFirstKeys, [...leafFirstKeys].sort(compareKeys))
    for (let i = 1; i < nodes.length; i++) {
      const previous = nodes[i - 1]?.node
      const current = nodes[i]?.node
      assert.ok(previous !== undefined && current !== undefined && (current.level === previous.level - 1 || previous.level === 0))
    }
  })

  it('reads the empty tree without needing its block in the store', async () => {
    const store = new MemoryStore()
    const root = emptyTree().root
    assert.equal(await countEntries(store, root), 0)
    assert.equal(await getEntry(store, root, 'a'), undefined)
    assert.deepEqual(await collect(entries(store, root, { prefix: 'a' })), [])
    const nodes = await allNodes(store, root)
    assert.equal(nodes.length, 1)
    assert.ok(nodes[0]?.cid.equals(root))
    assert.equal(store.reads, 0)
  })

  it('throws TreeError naming the CID for a child at the wrong level or with the wrong first key', async () => {
    const store = new MemoryStore()
    const leaf = encodeTreeNode({ level: 0, keys: ['a', 'b'], values: [valueCid(1), valueCid(2)] })
    const otherLeaf = encodeTreeNode({ level: 0, keys: ['m', 'n'], values: [valueCid(3), valueCid(4)] })
    store.put([leaf, otherLeaf])
    const wrongLevel = encodeTreeNode({ level: 2, keys: ['a', 'm'], values: [leaf.cid, otherLeaf.cid] })
    const wrongKey = encodeTreeNode({ level: 1, keys: ['a', 'k'], values: [leaf.cid, otherLeaf.cid] })
    const leafB = encodeTreeNode({ level: 0, keys: ['b', 'c'], values: [valueCid(5), valueCid(6)] })
    store.put([leafB])
    // Child 0 holds 'b', which belongs to child 1.
    const overlapping = encodeTreeNode({ level: 1, keys: ['a', 'b'], values: [leaf.cid, leafB.cid] })
    const notANode = { cid: valueCid('raw'), bytes: new TextEncoder().encode('hello') }
    const pointsAtRaw = encodeTreeNode({ level: 1, keys: ['a', 'm'], values: [notANode.cid, otherLeaf.cid] })
    store.put([wrongLevel, wrongKey, overlapping, pointsAtRaw])
    store.blocks.set(notANode.cid.toString(), notANode.bytes)
    const expectTreeError = (cid: CID) => (err: unknown): boolean => {
      assert.ok(err instanceof TreeError, String(err))
      assert.equal(err.code, 'ERR_TREE_INVALID')
      assert.ok(err.message.includes(cid.toString()), err.message)
      assert.ok(!err.message.includes('\n'))
      return true
    }
    await assert.rejects(getEntry(store, wrongLevel.cid, 'b'), expectTreeError(leaf.cid))
    await assert.rejects(countEntries(store, wrongKey.cid), expectTreeError(otherLeaf.cid))
    await assert.rejects(collect(entries(store, overlapping.cid)), expectTreeError(leaf.cid))
    await assert.rejects(getEntry(store, pointsAtRaw.cid, 'a'), expectTreeError(notANode.cid))
    await assert.rejects(async () => { for await (const _ of treeNodes(store, wrongKey.cid)); }, expectTreeError(otherLeaf.cid))
  })

  it('propagates reader errors unchanged and honours an abort signal', async () => {
    const store = new MemoryStore()
    const root = buildTree([{ key: 'a', value: valueCid(1) }]).root
    await assert.rejects(getEntry(store, root, 'a'), BlockMissingError)
    await assert.rejects(countEntries(store, root), BlockMissingError)
    await assert.rejects(collect(entries(store, root)), BlockMissingError)
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(getEntry(store, root, 'a', { signal: controller.signal }), { name: 'AbortError' })
  })
})
