/**
 * `frames.import`: many frames from NDJSON in one import, all or nothing. The input is read in
 * runs (lines, or bytes of whole lines); each run is encoded (`encodeFrameLines`: parsed,
 * validated, canonicalised, DAG-CBOR encoded, hashed, its store keys made), on worker threads
 * once the import is big (`import-workers.ts`), while this thread writes the runs already encoded
 * in big LevelDB batches, in line order. The frame blocks stay invisible until the working tree
 * moves, in the last write. Repeated ids are found once all runs are in, on the sort the tree
 * needs anyway (`core/import-tree.ts`); errors are reported in line order all the same.
 */
import { CID } from 'multiformats/cid'
import { SHA256_BLOCK_KEY_BYTES } from '../core/block-key.ts'
import { ENCODED_BUFFER_BYTES, encodedBuffers, FRAME_CID_BYTES, frameBytesAt, frameCidAt, frameKeyText } from '../core/frame-lines.ts'
import type { EncodedFrames } from '../core/frame-lines.ts'
import { firstDuplicate, importEntries } from '../core/import-tree.ts'
import type { ImportedRun } from '../core/import-tree.ts'
import { ndjsonRuns } from '../core/ndjson-runs.ts'
import type { NdjsonRead, NdjsonRun } from '../core/ndjson-runs.ts'
import { buildTreeOfPacked, leafStart, mutateTree, packedLeavesOf, treeAbove, unpackLeaves } from '../core/tree/index.ts'
import type { NewNode, TreeResult } from '../core/tree/index.ts'
import type { BlockStore } from '../storage/block-store.ts'
import type { WriteBatch } from '../storage/level-db.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ProgressOptions } from './context.ts'
import { encodeRun, importPool, packLeavesOnWorker, startImportPool } from './import-workers.ts'
import type { EncodedRun } from './import-workers.ts'

/** NDJSON as bytes (standard input, a request body): lines are split where they are encoded. */
export interface NdjsonBytes {
  ndjson: AsyncIterable<Uint8Array>
}

/**
 * NDJSON read on demand (a file: `read` of its handle), straight into the buffers of the
 * import's runs: no copy, and no new buffer per read.
 */
export interface NdjsonReader {
  readNdjson: NdjsonRead
}

/** What `frames.import` reads: NDJSON lines, or NDJSON bytes. */
export type ImportInput = AsyncIterable<string> | Iterable<string> | NdjsonBytes | NdjsonReader

export interface ImportProgress {
  frames: number
  bytes: number
}

export interface ImportResult {
  frames: number
  /** Working tree after the import. */
  tree: CID
}

/** What an import knows of its size before it reads its lines. */
export interface ImportSizeHint {
  /**
   * Bytes of NDJSON the lines come from (a file's size), when known: past
   * `importPool.thresholdBytes` the encoding workers start at once, so they are ready by the time
   * the import passes `importPool.threshold` lines.
   */
  expectedBytes?: number
}

export interface ImportOptions extends CallOptions, ProgressOptions<ImportProgress>, ImportSizeHint {
  /** Branch whose working tree gets the frames; default: the current branch. */
  branch?: string
  /** Where the lines come from, for error messages (`source:line`). */
  source?: string
}

/** What the import needs of the frame service. */
export interface ImportContext {
  /** Starts an atomic write. */
  writeBatch: () => WriteBatch
  /** The repository's blocks (a tree that is not empty is changed by reading its nodes). */
  blocks: BlockStore
  /** The branch a write stages on: the current one, or another that exists. */
  targetBranch: (branch?: string) => Promise<string>
  /** The working tree of `branch`. */
  workingTree: (branch: string) => Promise<CID>
  /** Writes `tree`'s blocks and makes it `branch`'s working tree, in one batch. */
  stageTree: (branch: string, tree: TreeResult) => Promise<CID>
  /** Throws `ERR_LINK_UNRESOLVED` (`where` + the message) for a link not in the repository. */
  checkResolvable: (links: Iterable<CID>, known: Set<string> | undefined, where: string) => Promise<void>
}

/**
 * Most frame blocks in one LevelDB batch (one is written while the next fills): two runs of a
 * file import. LevelDB copies a batch twice before it writes it (into the binding's buffers, then
 * into its own batch, grown by doubling), in memory the system maps and zeroes anew each time: at
 * 8,192 blocks (4 MB) a 100k-frame CLI import used about 0.5 s more CPU time (3.8 s against 3.3 s,
 * median of 8 runs on this project's 2-core machine) and 0.1 s more wall time than at 2,048.
 */
const IMPORT_BATCH = 2048

/**
 * Most tree blocks in one LevelDB batch. The leaves of a 100k-frame import are 7 MB in 3,000
 * blocks; LevelDB copies a batch into one buffer that it grows by doubling, and past a few MB
 * that is memory the system maps and zeroes anew. In batches of 128 (about 280 KB) the copy took
 * this thread 35 to 40 ms rather than 50 to 55, and LevelDB starts on the first while this
 * thread copies the next: a 100k-frame CLI import took 4 to 50 ms less (three sets of 10 to 12
 * alternated runs on this project's 2-core machine; medians 1,786 ms against 1,809 in the last).
 */
const TREE_BATCH = 128

/** Lines in runs of `size` (the last may be shorter); a sync iterable is read without a promise per line. */
async function * chunksOf (lines: AsyncIterable<string> | Iterable<string>, size: number, signal?: AbortSignal): AsyncGenerator<string[]> {
  let chunk: string[] = []
  if (Symbol.asyncIterator in lines) {
    for await (const line of lines) {
      signal?.throwIfAborted()
      chunk.push(line)
      if (chunk.length >= size) { yield chunk; chunk = [] }
    }
  } else {
    for (const line of lines) {
      signal?.throwIfAborted()
      chunk.push(line)
      if (chunk.length >= size) { yield chunk; chunk = [] }
    }
  }
  signal?.throwIfAborted()
  if (chunk.length > 0) yield chunk
}

/** The runs of an input: lines in runs of `importPool.chunkLines`, bytes in runs of about `importPool.runBytes`. */
function runsOf (input: ImportInput, source: string, signal?: AbortSignal): AsyncIterator<string[] | NdjsonRun> {
  const runs = 'ndjson' in input
    ? ndjsonRuns(input.ndjson, { runBytes: importPool.runBytes, source, signal })
    : 'readNdjson' in input
      ? ndjsonRuns(input.readNdjson, { runBytes: importPool.runBytes, source, signal })
      : chunksOf(input, importPool.chunkLines, signal)
  return runs[Symbol.asyncIterator]()
}

/** Throws `ERR_LINK_UNRESOLVED` for the first link that is neither a frame of the import nor in the repository. */
async function checkLinks (ctx: ImportContext, stored: readonly ImportedRun[], links: ReadonlyArray<{ link: Uint8Array, where: string }>): Promise<void> {
  const imported = new Set<string>()
  for (const run of stored) {
    const cids = Buffer.from(run.cids.buffer, run.cids.byteOffset, run.cids.byteLength)
    for (let at = 0; at < cids.byteLength; at += FRAME_CID_BYTES) imported.add(cids.toString('latin1', at, at + FRAME_CID_BYTES))
  }
  for (const { link, where } of links) {
    if (!imported.has(Buffer.from(link.buffer, link.byteOffset, link.byteLength).toString('latin1'))) await ctx.checkResolvable([CID.decode(link)], undefined, where)
  }
}

export async function importFrames (ctx: ImportContext, input: ImportInput, options?: ImportOptions): Promise<ImportResult> {
  const { writeBatch } = ctx
  const source = options?.source ?? 'input'
  /** What the end of the import needs of each run stored: ids, line numbers, CIDs (not the blocks). */
  const stored: ImportedRun[] = []
  const pendingLinks: Array<{ link: Uint8Array, where: string }> = []
  let frames = 0
  let bytes = 0
  let batch = writeBatch()
  /** The buffers of the blocks in `batch`: handed back for other runs once LevelDB has them. */
  let held: ArrayBuffer[] = []
  let writing: Promise<void> | undefined
  /** The last write has finished. */
  let written = true
  const write = (): void => {
    const full = batch
    const buffers = held
    batch = writeBatch()
    held = []
    written = false
    writing = full.write().then(() => { for (const b of buffers) if (b.byteLength === ENCODED_BUFFER_BYTES) encodedBuffers.give(b) }).finally(() => { written = true })
    // Its failure is thrown where it is awaited (before the next write, or at the end).
    writing.catch(() => {})
    options?.onProgress?.({ type: 'frames:import:progress', detail: { frames, bytes } })
  }
  // Runs encoded or under way on a worker, in line order: each is awaited (and its failure thrown) in turn.
  const runs: EncodedRun[] = []

  const store = async (run: EncodedFrames): Promise<void> => {
    const keys = frameKeyText(run)
    for (let i = 0; i < run.ids.length; i++) {
      batch.putBlockByKey(keys.slice(i * SHA256_BLOCK_KEY_BYTES, (i + 1) * SHA256_BLOCK_KEY_BYTES), frameBytesAt(run, i))
    }
    held.push(run.bytes.buffer)
    frames += run.ids.length
    bytes += run.bytes.byteLength
    stored.push({ ids: run.ids, lineNumbers: run.lineNumbers, sorted: run.sorted, cids: run.cids })
    for (const { frame, cids } of run.links) {
      const where = `${source}:${run.lineNumbers[frame] as number}: frame ${run.ids[frame] as string} `
      for (const link of cids) pendingLinks.push({ link, where })
    }
    // The lines before a bad one may repeat an id: that comes first.
    if (run.failure !== undefined) throw firstDuplicate(stored, source) ?? run.failure
    // Frame blocks go to LevelDB as soon as it has written the ones before, so that a batch's
    // operations are handed over as they are made and never outlive a young-generation GC
    // (with 8,192-block batches they did, and most of this thread's GC time went on them); while
    // LevelDB is busy they pile up, up to IMPORT_BATCH. They stay invisible until the working
    // tree moves.
    if (written) write()
    else if (batch.size >= IMPORT_BATCH) {
      await writing
      write()
    }
  }
  /** Stores the runs ready in order, and waits for the oldest while more than two per worker are under way. */
  const storeReady = async (): Promise<void> => {
    while (runs.length > 0 && (!(runs[0] instanceof Promise) || runs.length > 2 * Math.max(1, importPool.workers))) {
      await store(await (runs.shift() as EncodedRun))
    }
  }
  const storeAll = async (): Promise<void> => {
    while (runs.length > 0) await store(await (runs.shift() as EncodedRun))
  }

  /**
   * Writes tree blocks as soon as they are made, TREE_BATCH at a time: they stay invisible until
   * the working tree moves.
   */
  const writeBlocks = (blocks: readonly NewNode[]): void => {
    const written: Array<Promise<void>> = [writing ?? Promise.resolve()]
    for (let at = 0; at < blocks.length; at += TREE_BATCH) {
      const treeBatch = writeBatch()
      for (const block of blocks.slice(at, at + TREE_BATCH)) treeBatch.putBlock(block.cid, block.bytes)
      written.push(treeBatch.write())
    }
    writing = Promise.all(written).then(() => {})
    writing.catch(() => {})
  }
  /**
   * The tree of the import's frames in an empty working tree. Past `importPool.treeSplit` frames
   * an idle worker makes the leaves of the last part while this thread makes the others and
   * hands them to LevelDB; a leaf boundary between the parts keeps the tree the same. Its
   * `blocks` are those not written yet: the levels above the leaves.
   */
  const newTree = async (entries: { keys: string[], cids: Uint8Array }): Promise<TreeResult> => {
    const { keys, cids } = entries
    const from = keys.length >= importPool.treeSplit ? leafStart(keys, Math.floor(keys.length * importPool.treeShareHere)) : keys.length
    const apart = from > 0 && from < keys.length ? packLeavesOnWorker(keys.slice(from), cids.subarray(from * FRAME_CID_BYTES), FRAME_CID_BYTES) : undefined
    if (apart === undefined) return buildTreeOfPacked(keys, cids, FRAME_CID_BYTES)
    apart.catch(() => {})
    const here = packedLeavesOf(keys, cids, FRAME_CID_BYTES, 0, from)
    writeBlocks(here)
    // A worker that fails leaves its part to this thread.
    const there = await apart.then(packed => unpackLeaves(keys, cids, FRAME_CID_BYTES, from, packed), () => packedLeavesOf(keys, cids, FRAME_CID_BYTES, from, keys.length))
    writeBlocks(there)
    return treeAbove(here.concat(there))
  }

  const branch = await ctx.targetBranch(options?.branch)
  const base = await ctx.workingTree(branch)
  let result: TreeResult
  // An import known to be big starts the workers at once: they start while this thread encodes.
  // Its runs go to a worker as soon as one is up, not after the first `importPool.threshold` lines:
  // the worker was ready 0.1 to 0.25 s before then in a 100k-frame CLI import, and waited.
  const knownBig = (Array.isArray(input) && input.length > importPool.threshold) || (options?.expectedBytes ?? 0) > importPool.thresholdBytes
  if (knownBig) startImportPool()
  const reader = runsOf(input, source, options?.signal)
  let done = false
  try {
    let first = 1
    for (;;) {
      let next: IteratorResult<string[] | NdjsonRun>
      try {
        next = await reader.next()
      } catch (err) {
        done = true
        // An input that fails (a line too long, an upload over its limit) fails after the lines
        // before it: a bad line among them is reported first. A cancelled import stops at once.
        if (options?.signal?.aborted !== true) {
          await storeAll()
          throw firstDuplicate(stored, source) ?? err
        }
        throw err
      }
      if (next.done === true) break
      const run = next.value
      const encoded = encodeRun(run, first, source, knownBig)
      // A run still on a worker may fail later: it is awaited (and its failure thrown) in order.
      if (encoded instanceof Promise) encoded.catch(() => {})
      runs.push(encoded)
      first += Array.isArray(run) ? run.length : run.lines
      await storeReady()
    }
    done = true
    await storeAll()
    await writing
    write()
    // The tree is made while LevelDB writes the last frames. Throws the first repeated id.
    const entries = importEntries(stored, source)
    if (pendingLinks.length > 0) await checkLinks(ctx, stored, pendingLinks)
    result = base.equals(EMPTY_TREE)
      ? await newTree(entries)
      : await mutateTree(ctx.blocks, base, entries.keys.map((key, i) => ({ key, value: frameCidAt(entries, i) })), options)
    await writing
  } finally {
    if (!done) await reader.return?.().catch(() => {})
    // Nothing of a failed import is written after it returns.
    await writing?.catch(() => {})
  }
  const tree = await ctx.stageTree(branch, result)
  options?.onProgress?.({ type: 'frames:import:done', detail: { frames, bytes } })
  return { frames, tree }
}
