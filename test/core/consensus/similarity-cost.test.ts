import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { CID } from 'multiformats/cid'
import { cidOf, RAW } from '../../../src/core/codec.ts'
import { TreeSimilarity, TreeSizes } from '../../../src/core/consensus/index.ts'
import { buildTree, mutateTree } from '../../../src/core/tree/index.ts'
import type { BlockReader, TreeChange } from '../../../src/core/tree/index.ts'

/**
 * decide() diffs every candidate's tree against one reference tree, the first candidate's by CID
 * bytes, so what scoring reads depends on which candidate's CID sorts first: when it is a head that
 * changed many frames (a merge of everyone's work, a side of a healed partition), every diff walks
 * all of that head's changes. With 100 candidates of 5 changes each on a 100k-frame tree, scoring
 * read 5,686 tree nodes with a candidate as reference and 107,456 (more than 30 whole trees) with
 * the merge of all of them (383 ms → 13.8 s). Here the same at a small size: the pairs compared
 * are the same, only the reference differs.
 */
it('the cost of comparing candidates does not depend on which tree is the reference', async () => {
  const blocks = new Map<string, Uint8Array>()
  let reads = 0
  const reader: BlockReader = {
    async get (cid: CID) {
      reads++
      const b = blocks.get(cid.toString())
      if (b === undefined) throw new Error(`missing ${cid}`)
      return b
    }
  }
  const put = (bs: Array<{ cid: CID, bytes: Uint8Array }>): void => { for (const b of bs) blocks.set(b.cid.toString(), b.bytes) }
  const value = (s: string): CID => cidOf(new TextEncoder().encode(s), RAW)
  const key = (i: number): string => `topic-${i % 50}/frame-${i}`
  const base = buildTree(Array.from({ length: 5_000 }, (_, i) => ({ key: key(i), value: value(`base ${i}`) })))
  put(base.blocks)
  const candidates: CID[] = []
  const all: TreeChange[] = []
  for (let c = 0; c < 20; c++) {
    const changes = [0, 1].map(k => ({ key: key((c * 241 + k * 1_013) % 5_000), value: value(`c${c} k${k}`) }))
    all.push(...changes)
    const t = await mutateTree(reader, base.root, changes)
    put(t.blocks)
    candidates.push(t.root)
  }
  const merged = await mutateTree(reader, base.root, all)
  put(merged.blocks)
  const trees = [...candidates, merged.root]

  const cost = async (reference: CID): Promise<{ reads: number, values: number[] }> => {
    const sizes = new TreeSizes()
    sizes.set(base.root, 5_000)
    reads = 0
    const s = await TreeSimilarity.create(reader, reference, sizes)
    const values: number[] = []
    for (const a of trees) for (const b of trees) values.push(await s.of(a, b))
    return { reads, values }
  }
  const byCandidate = await cost(candidates[0] as CID)
  const byMerge = await cost(merged.root)
  assert.deepEqual(byMerge.values, byCandidate.values)
  assert.ok(byMerge.reads <= 2 * byCandidate.reads, `${byMerge.reads} tree nodes read with the merge as reference, ${byCandidate.reads} with a candidate`)
})
