import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { cidOf, RAW } from '../../src/core/cid.ts'
import { mergeOverChanges, mergeTrees } from '../../src/core/merge.ts'
import { buildTree, diffTrees, entries, mutateTree } from '../../src/core/tree/index.ts'
import type { BlockReader } from '../../src/core/tree/index.ts'

const value = (n: number): CID => cidOf(new Uint8Array([n & 0xff, n >> 8]), RAW)

function store (): BlockReader & { add: (blocks: Array<{ cid: CID, bytes: Uint8Array }>) => void } {
  const map = new Map<string, Uint8Array>()
  return {
    add: (blocks) => { for (const b of blocks) map.set(b.cid.toString(), b.bytes) },
    get: async (cid) => {
      const b = map.get(cid.toString())
      if (b == null) throw new Error(`missing ${cid}`)
      return b
    }
  }
}

const keys = fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `k/${i}`))
const map = fc.dictionary(keys, fc.integer({ min: 0, max: 5 }))
const edits = fc.dictionary(keys, fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }))

/** A tree of `m` (key → value number), its blocks added to `s`. */
function treeOf (s: ReturnType<typeof store>, m: Record<string, number>): CID {
  const t = buildTree(Object.entries(m).map(([key, v]) => ({ key, value: value(v) })))
  s.add(t.blocks)
  return t.root
}

/** `m` with edits `e` applied (null: removed). */
function apply (m: Record<string, number>, e: Record<string, number | null>): Record<string, number> {
  const out = { ...m }
  for (const [k, v] of Object.entries(e)) { if (v === null) delete out[k]; else out[k] = v }
  return out
}

describe('three-way merge of frame trees', () => {
  it('never loses a version: every side change is in the tree or in forks', async () => {
    await fc.assert(fc.asyncProperty(map, edits, edits, async (baseMap, oursEdits, theirsEdits) => {
      const s = store()
      const toTree = (m: Record<string, number>): CID => treeOf(s, m)
      const oursMap = apply(baseMap, oursEdits)
      const theirsMap = apply(baseMap, theirsEdits)
      const [base, ours, theirs] = [toTree(baseMap), toTree(oursMap), toTree(theirsMap)]
      const merged = await mergeTrees(s, base, ours, theirs)
      const result = await mutateTree(s, ours, merged.changes)
      s.add(result.blocks)
      const got = new Map<string, string>()
      for await (const e of entries(s, result.root)) got.set(e.key, e.value.toString())
      const forked = new Map(merged.forks.map(f => [f.id, f]))
      const all = new Set([...Object.keys(baseMap), ...Object.keys(oursMap), ...Object.keys(theirsMap)])
      for (const k of all) {
        const b = baseMap[k]
        const o = oursMap[k]
        const t = theirsMap[k]
        const str = (n: number | undefined): string | undefined => n === undefined ? undefined : value(n).toString()
        if (o === t) assert.equal(got.get(k), str(o), `agreed ${k}`)
        else if (o === b) assert.equal(got.get(k), str(t), `theirs only ${k}`)
        else if (t === b) assert.equal(got.get(k), str(o), `ours only ${k}`)
        else {
          // Changed two ways: the tree keeps ours, the fork records both.
          assert.equal(got.get(k), str(o), `conflict keeps ours ${k}`)
          const f = forked.get(k)
          assert.ok(f != null, `fork for ${k}`)
          assert.equal(f.ours?.toString(), str(o))
          assert.equal(f.theirs?.toString(), str(t))
        }
      }
      for (const k of got.keys()) assert.ok(all.has(k))
    }), { numRuns: 150 })
  })

  it('a merge over known changes of ours gives what the merge of the two trees gives, in the same order', async () => {
    await fc.assert(fc.asyncProperty(map, edits, edits, async (baseMap, oursEdits, theirsEdits) => {
      const s = store()
      const toTree = (m: Record<string, number>): CID => treeOf(s, m)
      const base = toTree(baseMap)
      const ours = toTree(apply(baseMap, oursEdits))
      const theirs = toTree(apply(baseMap, theirsEdits))
      const known = new Map<string, CID | null>()
      for await (const d of diffTrees(s, base, ours)) known.set(d.key, d.after)
      const view = (m: Awaited<ReturnType<typeof mergeTrees>>): unknown => ({
        changes: m.changes.map(c => [c.key, c.value?.toString() ?? null]),
        forks: m.forks.map(f => [f.id, f.ours?.toString() ?? null, f.theirs?.toString() ?? null])
      })
      assert.deepEqual(view(await mergeOverChanges(s, base, known, theirs)), view(await mergeTrees(s, base, ours, theirs)))
    }), { numRuns: 200 })
  })
})
