/**
 * framehub's hand-written fast paths beside the library each one replaces, on the same inputs in
 * the same run, so that an upgrade of the library that makes one of them unnecessary shows:
 *
 *   carWriteStream  src/core/car.ts carStream          vs @ipld/car CarWriter (async channel)
 *   carWriteBuffer  carStream into one chunk           vs @ipld/car/buffer-writer (CarBufferWriter)
 *   carRead         src/core/car.ts readCar            vs @ipld/car CarBlockIterator.fromIterable
 *   linkScan        src/core/cbor-links.ts cborLinks   vs @ipld/dag-cbor decode + a walk for links
 *   cidParse        src/core/cid.ts parseCid           vs multiformats CID.parse
 *   cidToString     src/core/cid.ts cidString          vs multiformats cid.toString()  (base32.ts)
 *   blockEncode     src/core/cbor-encode.ts            vs @ipld/dag-cbor encode
 *
 * Each pair runs interleaved rounds (ours then the library, then the other way round), each
 * round calling one side for BENCH_FAST_PATHS_ROUND_MS (100; 20 with BENCH_QUICK) after a
 * warm-up; BENCH_FAST_PATHS_ROUNDS (12; 3 with BENCH_QUICK). Time is the process's CPU time
 * (user + system, GC threads included), not wall time, so that other load on the machine counts
 * less. Reported per pair: the median CPU ns per operation (an operation is one block, one CID
 * or one value) and ops/s of both sides, `ratio` (library ns / ours ns: above 1 means ours is
 * faster), `pairedRatio` (the median of the rounds' own ratios, each round's two sides run next
 * to each other), the rounds ours won, and `faster` (both ratios above 1 and ours won most rounds). A fast path that is not faster should give way to its
 * library, unless the library cannot do what framehub needs there (`libraryCanReplace: false`,
 * with a `note`; listed in `notFaster` but not in `shouldGiveWay`). Every pair is first checked to give the same output on both sides (`sameOutput`); a
 * pair that does not is reported with `faster: false`.
 *
 * Run alone: `node scripts/bench/fast-paths.ts` (one JSON line), or `BENCH_ONLY=fastPaths npm run bench`.
 */
import { CarBlockIterator, CarWriter } from '@ipld/car'
import * as CarBufferWriter from '@ipld/car/buffer-writer'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { carStream, readCar } from '../../src/core/car.ts'
import { cborLinks } from '../../src/core/cbor-links.ts'
import { encodeDagCbor } from '../../src/core/cbor-encode.ts'
import { cidString, parseCid } from '../../src/core/cid.ts'
import { encodeBlock } from '../../src/core/block.ts'
import type { Block } from '../../src/core/block.ts'
import { encodeNode } from '../../src/core/tree/node.ts'
import { isMain, log, makeFrame, now, prng, round } from './common.ts'

export interface SideReport {
  nsPerOp: number
  opsPerSecond: number
}

export interface FastPathReport {
  /** What ours is, and what it is measured against. */
  ours: string
  library: string
  /** The inputs, and what one operation is. */
  inputs: string
  /** What the numbers do not say (when there is something). */
  note?: string
  /** Whether the library could take the fast path's place in framehub as it is used there. */
  libraryCanReplace: boolean
  /** Operations per call of either side. */
  opsPerCall: number
  oursResult: SideReport
  libraryResult: SideReport
  /** library ns/op over ours (medians over the rounds): above 1, ours is faster. */
  ratio: number
  /** The median over the rounds of each round's library ns/op over ours. */
  pairedRatio: number
  /** Rounds in which ours took less time per operation than the library, of `rounds`. */
  oursWonRounds: number
  rounds: number
  /** Both sides gave the same output on these inputs (checked once before timing). */
  sameOutput: boolean
  faster: boolean
}

export interface FastPathsReport {
  roundMs: number
  rounds: number
  pairs: Record<string, FastPathReport>
  /** Pairs where ours is not faster (or not the same output). */
  notFaster: string[]
  /** Those of `notFaster` whose library could take their place: they should give way to it. */
  shouldGiveWay: string[]
  /** True when every fast path is faster than its library. */
  allFaster: boolean
}

type Call = () => unknown

function intEnv (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw == null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`)
  return n
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/**
 * Calls `fn` (awaiting it when it gives a promise) until `ms` of wall time have passed; the
 * process's CPU time (user + system) per operation, in ns. CPU time rather than wall time: on a
 * machine shared with other work, wall time is mostly waiting for a core, and the two sides of
 * a pair would be judged on the load of their moment.
 */
async function timed (fn: Call, opsPerCall: number, ms: number): Promise<number> {
  let calls = 0
  const t0 = now()
  const cpu0 = process.cpuUsage()
  do {
    const r = fn()
    if (r instanceof Promise) await r
    calls++
  } while (now() - t0 < ms)
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) * 1000 / (calls * opsPerCall)
}

export interface PairSpec {
  ours: string
  library: string
  inputs: string
  note?: string
  /** Default true. */
  libraryCanReplace?: boolean
  opsPerCall: number
  runOurs: Call
  runLibrary: Call
  /** Whether both sides give the same output (run once, untimed). */
  same: () => Promise<boolean> | boolean
}

/** One pair, timed in interleaved rounds; exported for its test. */
export async function measurePair (name: string, spec: PairSpec, roundMs: number, rounds: number): Promise<FastPathReport> {
  const sameOutput = await spec.same()
  if (!sameOutput) log(`fastPaths: ${name}: ours and ${spec.library} give different output`)
  // Warm-up: both sides compiled and their caches filled before the first timed round.
  await timed(spec.runOurs, spec.opsPerCall, roundMs)
  await timed(spec.runLibrary, spec.opsPerCall, roundMs)
  const ours: number[] = []
  const library: number[] = []
  const ratios: number[] = []
  let won = 0
  for (let r = 0; r < rounds; r++) {
    let a: number, b: number
    if (r % 2 === 0) {
      a = await timed(spec.runOurs, spec.opsPerCall, roundMs)
      b = await timed(spec.runLibrary, spec.opsPerCall, roundMs)
    } else {
      b = await timed(spec.runLibrary, spec.opsPerCall, roundMs)
      a = await timed(spec.runOurs, spec.opsPerCall, roundMs)
    }
    ours.push(a)
    library.push(b)
    ratios.push(b / a)
    if (a < b) won++
  }
  const o = median(ours)
  const l = median(library)
  const ratio = l / o
  const pairedRatio = median(ratios)
  const side = (ns: number): SideReport => ({ nsPerOp: round(ns, 1), opsPerSecond: Math.round(1e9 / ns) })
  const report: FastPathReport = {
    ours: spec.ours,
    library: spec.library,
    inputs: spec.inputs,
    ...(spec.note != null ? { note: spec.note } : {}),
    libraryCanReplace: spec.libraryCanReplace ?? true,
    opsPerCall: spec.opsPerCall,
    oursResult: side(o),
    libraryResult: side(l),
    ratio: round(ratio, 2),
    pairedRatio: round(pairedRatio, 2),
    oursWonRounds: won,
    rounds,
    sameOutput,
    faster: sameOutput && ratio > 1 && pairedRatio > 1 && won * 2 > rounds
  }
  log(`fastPaths: ${name}: ours ${report.oursResult.nsPerOp} ns/op, ${spec.library} ${report.libraryResult.nsPerOp} ns/op (CPU), ratio ${report.ratio} (paired ${report.pairedRatio}, won ${won}/${rounds})${report.faster ? '' : ' (NOT faster)'}`)
  return report
}

/** The values framehub writes: frames (JSON documents) and commits (JSON with links). */
function inputs (quick: boolean): { frames: unknown[], commits: unknown[], blocks: Block[], root: CID } {
  const rand = prng(42)
  const count = quick ? 300 : 2000
  const frames: unknown[] = []
  for (let i = 0; i < count; i++) {
    const f = makeFrame(rand, i, 500)
    frames.push({ ...f, created: 1_760_000_000_000 + i, meta: { source: 'bench', confidence: Math.round(rand() * 100) / 100, version: 1 } })
  }
  const frameBlocks = frames.map(f => encodeBlock(f))
  // Prolly-tree leaves over the frames, 64 entries each (framehub's leaves hold about that many).
  const leaves: Block[] = []
  const ids = frames.map(f => (f as { id: string }).id)
  const order = ids.map((id, i) => [id, i] as const).sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  for (let at = 0; at < order.length; at += 64) {
    const slice = order.slice(at, at + 64)
    leaves.push(encodeNode({ level: 0, keys: slice.map(([id]) => id), values: slice.map(([, i]) => (frameBlocks[i] as Block).cid) }))
  }
  const top = encodeNode({ level: 1, keys: leaves.map((_, i) => (order[i * 64] as readonly [string, number])[0]), values: leaves.map(l => l.cid) })
  const commits: unknown[] = []
  let parent: CID | undefined
  const commitBlocks: Block[] = []
  for (let i = 0; i < (quick ? 50 : 200); i++) {
    const value = { type: 'commit', tree: top.cid, parents: parent == null ? [] : [parent], author: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', message: `step ${i}: ${makeFrame(rand, i, 80).title}`, timestamp: 1_760_000_000_000 + i * 1000 }
    commits.push(value)
    const block = encodeBlock(value)
    commitBlocks.push(block)
    parent = block.cid
  }
  const root = (commitBlocks.at(-1) as Block).cid
  // Root first, then the DAG depth-first, as framehub exports it (the order does not matter here).
  return { frames, commits, blocks: [...commitBlocks.reverse(), top, ...leaves, ...frameBlocks], root }
}

async function concat (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  return Buffer.concat(parts)
}

async function * inChunks (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size)
}

/** The links of a decoded DAG-CBOR value, in encoded order (what linksOf, src/core/block.ts, did before cbor-links.ts). */
function walkLinks (value: unknown, out: CID[]): void {
  if (value === null || typeof value !== 'object') return
  const cid = CID.asCID(value)
  if (cid != null) { out.push(cid); return }
  if (value instanceof Uint8Array) return
  if (Array.isArray(value)) { for (const v of value) walkLinks(v, out); return }
  for (const v of Object.values(value)) walkLinks(v, out)
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

export async function benchFastPaths (options: { quick?: boolean, roundMs?: number, rounds?: number } = {}): Promise<FastPathsReport> {
  const quick = options.quick ?? process.env.BENCH_QUICK === '1'
  const roundMs = options.roundMs ?? intEnv('BENCH_FAST_PATHS_ROUND_MS', quick ? 20 : 100)
  const rounds = options.rounds ?? intEnv('BENCH_FAST_PATHS_ROUNDS', quick ? 3 : 12)
  const { frames, commits, blocks, root } = inputs(quick)
  const carBytes = await concat(carStream(root, blocks))
  const totalBytes = blocks.reduce((n, b) => n + b.bytes.byteLength, 0)
  const what = `${blocks.length} framehub blocks (${frames.length} frames of ~500 B, prolly-tree nodes, ${commits.length} commits; ${round(totalBytes / 1e6, 2)} MB); one op = one block`
  log(`fastPaths: ${blocks.length} blocks, CAR ${round(carBytes.byteLength / 1e6, 2)} MB, rounds of ${roundMs} ms x ${rounds}`)

  const libraryCarWriter = async (): Promise<Uint8Array[]> => {
    const { writer, out } = CarWriter.create([root])
    const parts: Uint8Array[] = []
    const done = (async () => { for await (const c of out) parts.push(c) })()
    for (const b of blocks) await writer.put(b)
    await writer.close()
    await done
    return parts
  }
  const oursStream = async (chunkBytes?: number): Promise<Uint8Array[]> => {
    const parts: Uint8Array[] = []
    for await (const c of carStream(root, blocks, chunkBytes == null ? {} : { chunkBytes })) parts.push(c)
    return parts
  }
  const bufferSize = CarBufferWriter.headerLength({ roots: [root] }) + blocks.reduce((n, b) => n + CarBufferWriter.blockLength(b), 0)
  const libraryBuffer = (): Uint8Array => {
    const writer = CarBufferWriter.createWriter(new ArrayBuffer(bufferSize), { roots: [root] })
    for (const b of blocks) writer.write(b)
    return writer.close()
  }
  const oursBuffer = async (): Promise<Uint8Array> => {
    let only: Uint8Array | undefined
    for await (const c of carStream(root, blocks, { chunkBytes: bufferSize })) only = c
    return only as Uint8Array
  }

  const readOurs = async (): Promise<Block[]> => {
    const contents = await readCar(inChunks(carBytes, 64 * 1024))
    if (contents.version !== 1) throw new Error('expected a CAR v1')
    const out: Block[] = []
    for await (const batch of contents.batches) for (const b of batch) out.push(b)
    return out
  }
  const readLibrary = async (): Promise<Block[]> => {
    const out: Block[] = []
    for await (const b of await CarBlockIterator.fromIterable(inChunks(carBytes, 64 * 1024))) out.push(b as Block)
    return out
  }
  const sameBlocks = (a: Block[], b: Block[]): boolean => a.length === b.length && a.every((x, i) => x.cid.equals((b[i] as Block).cid) && sameBytes(x.bytes, (b[i] as Block).bytes))

  const cborBlocks = blocks.map(b => b.bytes)
  const linksLibrary = (bytes: Uint8Array): CID[] => { const out: CID[] = []; walkLinks(dagCbor.decode(bytes), out); return out }

  // CID text: fresh CID instances each call for toString (multiformats caches a CID's text on the instance).
  const cidBytes = blocks.map(b => b.cid.bytes)
  const cidTexts = blocks.map(b => b.cid.toString())
  const values = [...frames, ...commits]

  const pairs: Record<string, FastPathReport> = {}
  pairs.carWriteStream = await measurePair('carWriteStream', {
    ours: 'carStream (src/core/car.ts), 64 KiB chunks',
    library: '@ipld/car CarWriter',
    inputs: what,
    opsPerCall: blocks.length,
    runOurs: oursStream,
    runLibrary: libraryCarWriter,
    same: async () => sameBytes(Buffer.concat(await oursStream()), Buffer.concat(await libraryCarWriter()))
  }, roundMs, rounds)
  pairs.carWriteBuffer = await measurePair('carWriteBuffer', {
    ours: 'carStream (src/core/car.ts) into one chunk of the CAR\'s size',
    library: '@ipld/car/buffer-writer CarBufferWriter (size computed beforehand)',
    inputs: what,
    note: 'CarBufferWriter needs the size of the whole CAR before its first block, so it can replace carStream only where every block is in memory first; every CAR framehub writes (snapshot export, gateway CAR, sync answer) streams blocks as a walk reads them',
    libraryCanReplace: false,
    opsPerCall: blocks.length,
    runOurs: oursBuffer,
    runLibrary: libraryBuffer,
    same: async () => sameBytes(await oursBuffer(), libraryBuffer())
  }, roundMs, rounds)
  pairs.carRead = await measurePair('carRead', {
    ours: 'readCar (src/core/car.ts)',
    library: '@ipld/car CarBlockIterator.fromIterable',
    inputs: `the CAR of ${what}, read in 64 KiB chunks`,
    opsPerCall: blocks.length,
    runOurs: readOurs,
    runLibrary: readLibrary,
    same: async () => sameBlocks(await readOurs(), await readLibrary())
  }, roundMs, rounds)
  pairs.linkScan = await measurePair('linkScan', {
    ours: 'cborLinks (src/core/cbor-links.ts)',
    library: '@ipld/dag-cbor decode + walk for CIDs',
    inputs: what,
    opsPerCall: cborBlocks.length,
    runOurs: () => { let n = 0; for (const b of cborBlocks) n += cborLinks(b).length; return n },
    runLibrary: () => { let n = 0; for (const b of cborBlocks) n += linksLibrary(b).length; return n },
    same: () => cborBlocks.every(b => { const x = cborLinks(b); const y = linksLibrary(b); return x.length === y.length && x.every((c, i) => c.equals(y[i])) })
  }, roundMs, rounds)
  pairs.cidParse = await measurePair('cidParse', {
    ours: 'parseCid (src/core/cid.ts, base32.ts)',
    library: 'multiformats CID.parse',
    inputs: `${cidTexts.length} CIDv1 base32 texts (dag-cbor, sha2-256); one op = one CID`,
    opsPerCall: cidTexts.length,
    runOurs: () => { let n = 0; for (const t of cidTexts) n += parseCid(t).code; return n },
    runLibrary: () => { let n = 0; for (const t of cidTexts) n += CID.parse(t).code; return n },
    same: () => cidTexts.every(t => parseCid(t).equals(CID.parse(t)))
  }, roundMs, rounds)
  pairs.cidToString = await measurePair('cidToString', {
    ours: 'cidString (src/core/cid.ts, base32.ts)',
    library: 'multiformats CID toString()',
    inputs: `${cidBytes.length} CIDv1 (dag-cbor, sha2-256), each a fresh instance (CID.decode, in both sides' time); one op = one CID`,
    opsPerCall: cidBytes.length,
    runOurs: () => { let n = 0; for (const b of cidBytes) n += cidString(CID.decode(b)).length; return n },
    runLibrary: () => { let n = 0; for (const b of cidBytes) n += CID.decode(b).toString().length; return n },
    same: () => cidBytes.every(b => cidString(CID.decode(b)) === CID.decode(b).toString())
  }, roundMs, rounds)
  pairs.blockEncode = await measurePair('blockEncode', {
    ours: 'encodeDagCbor (src/core/cbor-encode.ts)',
    library: '@ipld/dag-cbor encode',
    inputs: `${frames.length} frame values (~500 B JSON) and ${commits.length} commit values (with links); one op = one value`,
    opsPerCall: values.length,
    runOurs: () => { let n = 0; for (const v of values) n += encodeDagCbor(v).byteLength; return n },
    runLibrary: () => { let n = 0; for (const v of values) n += dagCbor.encode(v).byteLength; return n },
    same: () => values.every(v => sameBytes(encodeDagCbor(v), dagCbor.encode(v)))
  }, roundMs, rounds)

  const notFaster = Object.entries(pairs).filter(([, p]) => !p.faster).map(([name]) => name)
  const shouldGiveWay = notFaster.filter(name => pairs[name]?.libraryCanReplace === true)
  return { roundMs, rounds, pairs, notFaster, shouldGiveWay, allFaster: notFaster.length === 0 }
}

if (isMain(import.meta.url)) {
  const report = await benchFastPaths()
  process.stdout.write(JSON.stringify(report) + '\n')
}
