import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { TreeError, compareKeys, decodeTreeNode, emptyTree, encodeTreeNode, isTreeNode } from '../../../src/core/tree/index.ts'
import type { TreeNode } from '../../../src/core/tree/index.ts'
import { keyArb, valueCid } from './helpers.ts'

/** Compares bytes regardless of Buffer vs Uint8Array. */
const sameBytes = (a: Uint8Array, b: Uint8Array): void => assert.equal(Buffer.compare(a, b), 0)
const sha = (bytes: Uint8Array): Uint8Array => createHash('sha256').update(bytes).digest()

const cidArb: fc.Arbitrary<CID> = fc.oneof(
  fc.uint8Array({ maxLength: 16 }).map(b => CID.createV1(0x55, Digest.create(0x12, sha(b)))),
  fc.uint8Array({ maxLength: 16 }).map(b => CID.createV1(0x71, Digest.create(0x12, sha(b)))),
  fc.uint8Array({ maxLength: 16 }).map(b => CID.createV0(Digest.create(0x12, sha(b)))),
  fc.uint8Array({ maxLength: 300 }).map(b => CID.createV1(0x55, Digest.create(0x00, b)))
)

const levelArb = fc.oneof(fc.nat(40), fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER))
const longKey = fc.string({ unit: 'binary', minLength: 20, maxLength: 300 }).filter(k => k.isWellFormed() && !k.startsWith('\ufeff'))

const nodeArb: fc.Arbitrary<TreeNode> = fc.record({
  level: levelArb,
  entries: fc.uniqueArray(fc.tuple(fc.oneof(keyArb, longKey), cidArb), { selector: e => e[0], maxLength: 40 })
}).map(({ level, entries }) => {
  const sorted = [...entries].sort((a, b) => compareKeys(a[0], b[0]))
  return { level: sorted.length === 0 ? 0 : level, keys: sorted.map(e => e[0]), values: sorted.map(e => e[1]) }
})

/** Arbitrary encodable DAG-CBOR values, biased towards node-like maps. */
const { value: cborArb } = fc.letrec<{ value: unknown, leaf: unknown, list: unknown[], map: Record<string, unknown> }>(tie => ({
  value: fc.oneof({ depthSize: 'small' }, tie('leaf'), tie('list'), tie('map')),
  leaf: fc.oneof(
    fc.integer(), fc.nat(), fc.constantFrom(-1, 0.5, -0, 2 ** 53, 1e300), fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 6 }), keyArb, fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 6 }), cidArb
  ),
  list: fc.array(tie('value'), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(fc.constantFrom('level', 'keys', 'values'), fc.string({ maxLength: 4 })), tie('value'), { maxKeys: 4 })
}))

const nodeLikeArb = fc.record({
  level: fc.oneof(levelArb, fc.constantFrom(-1, 1.5, '0', null)),
  keys: fc.array(fc.oneof(keyArb, keyArb, fc.integer(), fc.constant(null)), { maxLength: 5 }),
  values: fc.array(fc.oneof(cidArb, cidArb, fc.string(), fc.uint8Array({ maxLength: 4 })), { maxLength: 5 })
}, { requiredKeys: [] }).chain(base => fc.oneof(
  fc.constant(base as Record<string, unknown>),
  fc.dictionary(fc.string({ maxLength: 4 }), cborArb, { minKeys: 1, maxKeys: 2 }).map(extra => ({ ...extra, ...base }))
))

/**
 * decodeTreeNode accepts exactly the canonical DAG-CBOR encodings of node-shaped values:
 * when it accepts, @ipld/dag-cbor reads the same node and re-encodes to the same bytes;
 * when it rejects, it throws a one-line TreeError, and @ipld/dag-cbor does not read a
 * node-shaped value whose canonical encoding is these bytes.
 */
function assertDecodesLikeDagCbor (bytes: Uint8Array, outcomes: { accepted: number, rejected: number }): void {
  let reference: unknown
  let canonical = false
  try {
    reference = dagCbor.decode(bytes)
    canonical = isTreeNode(reference) && Buffer.compare(encodeTreeNode(reference).bytes, bytes) === 0
  } catch {}
  let node: TreeNode
  try {
    node = decodeTreeNode(bytes)
  } catch (err) {
    assert.ok(err instanceof TreeError, `expected TreeError, got ${String(err)}`)
    assert.equal(err.name, 'TreeError')
    assert.equal(err.code, 'ERR_TREE_INVALID')
    assert.ok(!err.message.includes('\n'))
    assert.equal(canonical, false, 'rejected a canonical node')
    outcomes.rejected++
    return
  }
  assert.ok(canonical, 'accepted bytes that are not a canonical node')
  outcomes.accepted++
  const ref = reference as TreeNode
  assert.equal(node.level, ref.level)
  assert.deepEqual(node.keys, ref.keys)
  node.values.forEach((v, i) => assert.ok(v.equals(ref.values[i])))
}

describe('node codec', () => {
  it('encodes exactly like @ipld/dag-cbor and round-trips', () => {
    fc.assert(fc.property(nodeArb, node => {
      const block = encodeTreeNode(node)
      sameBytes(block.bytes, dagCbor.encode({ level: node.level, keys: node.keys, values: node.values }))
      assert.ok(block.cid.equals(CID.createV1(0x71, Digest.create(0x12, sha(block.bytes)))))
      const decoded = decodeTreeNode(block.bytes)
      assert.equal(decoded.level, node.level)
      assert.deepEqual(decoded.keys, node.keys)
      assert.equal(decoded.values.length, node.values.length)
      decoded.values.forEach((v, i) => assert.ok(v.equals(node.values[i])))
    }), { numRuns: 400 })
  })

  it('encodes very long keys and many entries like @ipld/dag-cbor', () => {
    const keys = ['a'.repeat(70_000), 'b\u{1f600}'.repeat(30_000)]
    const node = { level: 0, keys, values: keys.map((_, i) => valueCid(i)) }
    sameBytes(encodeTreeNode(node).bytes, dagCbor.encode(node))
    const many = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(4, '0')}`)
    const wide = { level: 3, keys: many, values: many.map(k => valueCid(k)) }
    sameBytes(encodeTreeNode(wide).bytes, dagCbor.encode(wide))
  })

  it('has a constant empty tree', () => {
    const { root, blocks } = emptyTree()
    assert.equal(root.toString(), 'bafyreigvh3ip2lusvx7ohilikcgivr6fdzfrdvccpi4ol6oo2yvvkjmynm')
    assert.equal(blocks.length, 1)
    assert.deepEqual(decodeTreeNode((blocks[0] as { bytes: Uint8Array }).bytes), { level: 0, keys: [], values: [] })
  })

  it('rejects specific malformed nodes with TreeError', () => {
    const v = valueCid(1)
    const bad: unknown[] = [
      null, 1, 'x', [], [1, 2], v, new Uint8Array(3),
      { level: 0, keys: [] },
      { level: 0, keys: [], values: [], extra: 1 },
      { level: -1, keys: [], values: [] },
      { level: 1.5, keys: [], values: [] },
      { level: '0', keys: [], values: [] },
      { level: 1, keys: [], values: [] },
      { level: 0, keys: ['b', 'a'], values: [v, v] },
      { level: 0, keys: ['a', 'a'], values: [v, v] },
      { level: 0, keys: ['\u{10000}', '\uffff'], values: [v, v] },
      { level: 0, keys: ['a'], values: [v, v] },
      { level: 0, keys: [1], values: [v] },
      { level: 0, keys: ['a'], values: ['bafy'] },
      { level: 0, keys: ['a'], values: [null] },
      { level: 0, keys: 'a', values: [v] }
    ]
    for (const value of bad) {
      assert.equal(isTreeNode(value), false, JSON.stringify(value))
      assert.throws(() => decodeTreeNode(dagCbor.encode(value)), (err: unknown) => err instanceof TreeError && err.code === 'ERR_TREE_INVALID')
    }
    assert.throws(() => decodeTreeNode(new Uint8Array([0xff, 0x00])), TreeError)
    assert.throws(() => decodeTreeNode(new Uint8Array()), TreeError)
    assert.throws(() => encodeTreeNode({ level: 0, keys: ['b', 'a'], values: [v, v] }), TreeError)
    assert.throws(() => encodeTreeNode({ level: 0, keys: ['\ud800'], values: [v] }), TreeError)
    assert.throws(() => encodeTreeNode({ level: 0, keys: ['\ufeffa'], values: [v] }), TreeError)
    assert.ok(isTreeNode({ level: 0, keys: ['\uffff', '\u{10000}'], values: [v, v] }))
  })

  it('rejects a non-canonical encoding of a valid node', () => {
    const node = { level: 1, keys: ['a'], values: [valueCid(1)] }
    const canonical = encodeTreeNode(node).bytes
    // Same content with map keys in insertion order (values before level) is not canonical.
    const reordered = new Uint8Array(canonical.byteLength)
    const keysPart = canonical.subarray(0, canonical.indexOf(0x65)) // a3 + "keys" + list
    const levelPart = canonical.subarray(keysPart.byteLength, keysPart.byteLength + 7)
    const valuesPart = canonical.subarray(keysPart.byteLength + 7)
    reordered.set(keysPart, 0)
    reordered.set(valuesPart, keysPart.byteLength)
    reordered.set(levelPart, keysPart.byteLength + valuesPart.byteLength)
    assert.throws(() => decodeTreeNode(reordered), TreeError)
    // The level as a 2-byte integer instead of 1 byte.
    const wide = new Uint8Array(canonical.byteLength + 1)
    const at = keysPart.byteLength + 6
    wide.set(canonical.subarray(0, at), 0)
    wide.set([0x18, 0x01], at)
    wide.set(canonical.subarray(at + 1), at + 2)
    assert.throws(() => decodeTreeNode(wide), TreeError)
  })

  it('fuzz: random DAG-CBOR values decode only when node-shaped, else TreeError', () => {
    const outcomes = { accepted: 0, rejected: 0 }
    fc.assert(fc.property(fc.oneof(cborArb, nodeLikeArb, nodeArb), value => {
      let bytes: Uint8Array
      try {
        bytes = dagCbor.encode(value)
      } catch {
        return
      }
      assertDecodesLikeDagCbor(bytes, outcomes)
    }), { numRuns: 3000 })
    assert.ok(outcomes.accepted > 50 && outcomes.rejected > 1000, JSON.stringify(outcomes))
  })

  it('fuzz: mutated valid nodes are rejected with TreeError or still valid', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.nat(255) })
    )
    const outcomes = { accepted: 0, rejected: 0 }
    fc.assert(fc.property(nodeArb, fc.array(mutation, { minLength: 1, maxLength: 3 }), (node, mutations) => {
      let bytes = encodeTreeNode(node).bytes
      for (const m of mutations) {
        const at = m.at % (bytes.byteLength + 1)
        const copy = new Uint8Array(bytes)
        if (m.kind === 'flip' && at < bytes.byteLength) copy[at] = (copy[at] as number) ^ (1 << m.bit)
        if (m.kind === 'set' && at < bytes.byteLength) copy[at] = m.byte
        if (m.kind === 'cut') bytes = bytes.slice(0, at)
        else if (m.kind === 'insert') bytes = new Uint8Array([...bytes.subarray(0, at), m.byte, ...bytes.subarray(at)])
        else bytes = copy
      }
      assertDecodesLikeDagCbor(bytes, outcomes)
    }), { numRuns: 2000 })
    assert.ok(outcomes.accepted > 50 && outcomes.rejected > 500, JSON.stringify(outcomes))
  })
})
