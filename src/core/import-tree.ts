/**
 * The frames of an import, from its encoded runs (`frame-lines.ts`, in line order): the first id
 * that appears twice, and the tree of them all. An import checks for repeated ids here, once, on
 * the sort the tree needs anyway, rather than with a lookup per frame while it stores them
 * (a map of every id kept through the import, which cost most of its garbage collection).
 */
import { FrameInvalidError } from './errors.ts'
import { FRAME_CID_BYTES } from './frame-lines.ts'
import type { EncodedFrames } from './frame-lines.ts'
import { buildTreeOfPacked } from './tree/index.ts'
import type { TreeResult } from './tree/index.ts'
import { compareKeys } from './tree/keys.ts'

/** What the tree needs of an encoded run (not its blocks). */
export type ImportedRun = Pick<EncodedFrames, 'ids' | 'lineNumbers' | 'sorted' | 'cids'>

/** The ids of the runs in key order (UTF-8 byte order, as the tree orders them); equal ids in line order. */
interface Sorted {
  ids: string[]
  lines: Int32Array
  /** Run and index in it of the i-th entry in `ids`' order (`order[i]` into the flat arrays). */
  runOf: Int32Array
  indexOf: Int32Array
  order: number[]
}

const ABOVE_SURROGATES = /[\uD800-\uFFFF]/

function sortRuns (runs: readonly ImportedRun[]): Sorted {
  let n = 0
  for (const run of runs) n += run.ids.length
  const ids = new Array<string>(n)
  const lines = new Int32Array(n)
  const runOf = new Int32Array(n)
  const indexOf = new Int32Array(n)
  const order = new Array<number>(n)
  let native = true
  let at = 0
  for (let r = 0; r < runs.length; r++) {
    const run = runs[r] as ImportedRun
    const base = at
    for (let i = 0; i < run.ids.length; i++, at++) {
      const id = run.ids[i] as string
      if (native && ABOVE_SURROGATES.test(id)) native = false
      ids[at] = id
      lines[at] = run.lineNumbers[i] as number
      runOf[at] = r
      indexOf[at] = i
      // Each run comes sorted: the sort below merges them.
      order[at] = base + (run.sorted[i] as number)
    }
  }
  // Native (UTF-16) order equals byte order unless an id has a surrogate or a char in
  // U+E000..U+FFFF. The sort is stable (equal ids stay in line order) and finds the sorted runs.
  if (native) order.sort((a, b) => (ids[a] as string) < (ids[b] as string) ? -1 : (ids[a] as string) > (ids[b] as string) ? 1 : 0)
  else order.sort((a, b) => compareKeys(ids[a] as string, ids[b] as string))
  return { ids, lines, runOf, indexOf, order }
}

/** The error of the earliest line whose id an earlier line has, if any. */
function duplicateIn (sorted: Sorted, source: string): Error | undefined {
  const { ids, lines, order } = sorted
  let line = Infinity
  let id = ''
  for (let i = 1; i < order.length; i++) {
    const a = order[i - 1] as number
    const b = order[i] as number
    if (ids[a] === ids[b] && (lines[b] as number) < line) {
      line = lines[b] as number
      id = ids[b] as string
    }
  }
  if (line === Infinity) return undefined
  const at = `${source}:${line}`
  return new FrameInvalidError(`${at}: frame id "${id}" appears twice in this import (an import holds each id once)`, { source: at, line, id })
}

/**
 * The error of the earliest line (in `source`) whose frame id an earlier line has, if any: the
 * one an import reports, as a line-by-line check would.
 */
export function firstDuplicate (runs: readonly ImportedRun[], source: string): Error | undefined {
  return duplicateIn(sortRuns(runs), source)
}

/**
 * The ids of the runs in key order, and their CIDs packed in the same order (FRAME_CID_BYTES
 * each, no CID object per frame); throws the first repeated id (`firstDuplicate`).
 */
export function importEntries (runs: readonly ImportedRun[], source: string): { keys: string[], cids: Uint8Array<ArrayBuffer> } {
  const sorted = sortRuns(runs)
  const duplicate = duplicateIn(sorted, source)
  if (duplicate !== undefined) throw duplicate
  const { ids, runOf, indexOf, order } = sorted
  const keys = new Array<string>(order.length)
  const cids = Buffer.allocUnsafeSlow(order.length * FRAME_CID_BYTES)
  const from = runs.map(run => Buffer.from(run.cids.buffer, run.cids.byteOffset, run.cids.byteLength))
  for (let i = 0; i < order.length; i++) {
    const o = order[i] as number
    const at = (indexOf[o] as number) * FRAME_CID_BYTES
    keys[i] = ids[o] as string
    ;(from[runOf[o] as number] as Buffer).copy(cids, i * FRAME_CID_BYTES, at, at + FRAME_CID_BYTES)
  }
  return { keys, cids }
}

/** The tree of the runs' frames (what `buildTree` gives for them); throws the first repeated id. */
export function importTree (runs: readonly ImportedRun[], source: string): TreeResult {
  const { keys, cids } = importEntries(runs, source)
  return buildTreeOfPacked(keys, cids, FRAME_CID_BYTES)
}
