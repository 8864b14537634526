import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeFrameLines, frameCidAt } from '../../src/core/frame-lines.ts'
import type { EncodedFrames } from '../../src/core/frame-lines.ts'
import { firstDuplicate, importTree } from '../../src/core/import-tree.ts'
import { buildTree } from '../../src/core/tree/index.ts'

/** Frame lines with ids whose UTF-16 order differs from their byte order (astral characters, U+E000..U+FFFF). */
function lines (count: number, seed: number): string[] {
  const parts = ['a', 'b', 'é', '\uE000', '\uFFFD', '😀', '𝔸', 'z']
  let x = seed
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    const id = `${parts[x % parts.length] as string}${parts[(x >>> 8) % parts.length] as string}/${i}`
    out.push(JSON.stringify({ id, kind: 'note', body: i }))
  }
  return out
}

describe('the tree of an import', () => {
  it('is the tree of all its frames, however the lines are cut into runs', () => {
    const all = lines(2000, 7)
    for (const size of [1, 37, 500, 2000]) {
      const runs: EncodedFrames[] = []
      for (let at = 0; at < all.length; at += size) runs.push(encodeFrameLines(all.slice(at, at + size), at + 1, 's'))
      const entries = runs.flatMap(r => r.ids.map((key, i) => ({ key, value: frameCidAt(r, i) })))
      assert.equal(importTree(runs, 's').root.toString(), buildTree(entries).root.toString())
      assert.equal(firstDuplicate(runs, 's'), undefined)
    }
  })

  it('reports the earliest line whose id an earlier line has', () => {
    const all = lines(300, 3)
    const withDuplicates = [...all]
    withDuplicates.splice(250, 0, all[10] as string) // line 251
    withDuplicates.splice(120, 0, all[200] as string) // line 121, before the second occurrence of line 201's id
    const runs: EncodedFrames[] = []
    for (let at = 0; at < withDuplicates.length; at += 64) runs.push(encodeFrameLines(withDuplicates.slice(at, at + 64), at + 1, 's'))
    // Line 121 repeats an id that comes again at line 202 (the original line 201): the second
    // occurrence is line 202, and line 252 repeats line 11. The earliest is 202.
    const err = firstDuplicate(runs, 'dup.ndjson') as Error & { code?: string, details?: { line?: number } }
    assert.equal(err.code, 'ERR_FRAME_INVALID')
    assert.match(err.message, /^dup\.ndjson:202: frame id .* appears twice/)
    assert.throws(() => importTree(runs, 'dup.ndjson'), /^FrameInvalidError: dup\.ndjson:202: /)
  })
})
