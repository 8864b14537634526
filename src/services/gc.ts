import * as dagCbor from '@ipld/dag-cbor'
import type { AbstractSnapshot } from 'abstract-level'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { DAG_CBOR, DAG_PB, RAW, SHA2_256 } from '../core/cid.ts'
import { linksOf, verifyBlock } from '../core/block.ts'
import { identity } from 'multiformats/hashes/identity'
import type { Helia } from '@helia/interface'
import { RepoCorruptError } from '../core/errors.ts'
import { indexKeys } from '../storage/frame-index/layout.ts'
import { blockKey } from '../storage/level-db.ts'
import type { RepoDb } from '../storage/level-db.ts'
import { STATE_KINDS, stateKindOf } from '../storage/state.ts'
import type { StateKinds, StateReader, StateRoots } from '../storage/state.ts'
import { EMPTY_TREE } from './context.ts'
import type { CallOptions, ProgressOptions, ServiceComponents } from './context.ts'

export interface GcOptions extends CallOptions, ProgressOptions<GcProgress> {
  /** Count what would be removed, remove nothing. */
  dryRun?: boolean
}

export interface GcProgress {
  phase: 'mark' | 'sweep'
  blocks: number
}

export interface GcResult {
  /** Blocks removed (with dryRun: that would be removed). */
  removed: number
  /** Blocks kept: reachable from a root. */
  kept: number
  /** Bytes of block data removed (or that would be). */
  bytesFreed: number
  dryRun: boolean
  /** Root CIDs the mark phase started from. */
  roots: number
  /** Blocks a root reaches that this repository does not have (e.g. a pin that failed). */
  missing: number
}

export interface GcService {
  /**
   * Removes every block that no root reaches. Roots: the CIDs held by every state key whose kind
   * STATE_KINDS declares with `roots` (branches, remote-tracking refs, published heads, working
   * trees, fork records, session heads, the pinning service's records), Helia's pins, the trees
   * the frame index describes, and the empty tree. A state key of an undeclared kind stops the
   * collection before anything is removed (ERR_REPO_CORRUPT): the blocks it holds are unknown.
   * Runs under the write lock; blocks written while it runs (by Helia, outside the lock) are kept.
   */
  gc (options?: GcOptions): Promise<GcResult>
}

const BATCH = 4096

/** Every CID inside an IPLD value. */
function collectCids (value: unknown, out: CID[], depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 64) return
  const cid = CID.asCID(value)
  if (cid != null) { out.push(cid); return }
  if (value instanceof Uint8Array) return
  for (const v of Array.isArray(value) ? value : Object.values(value)) collectCids(v, out, depth + 1)
}

const codecBit = (code: number): number => code === DAG_CBOR ? 1 : code === RAW ? 2 : code === DAG_PB ? 4 : 8

/**
 * The marks of the mark phase, keyed by raw multihash bytes: for sha2-256 (nearly every block)
 * an open-addressing table of 32-byte digests with a byte of flags (which codecs a CID of that
 * digest was walked as; a block read as raw has no links, read as dag-cbor it may), about 50
 * bytes per block instead of a few hundred for a Set of base32 strings.
 */
export class MarkSet {
  #digests: Uint8Array
  #flags: Uint8Array
  #mask: number
  #count = 0
  readonly #other = new Map<string, number>()

  constructor (capacity = 1 << 16) {
    let cap = 1024
    while (cap < capacity) cap *= 2
    this.#digests = new Uint8Array(cap * 32)
    this.#flags = new Uint8Array(cap)
    this.#mask = cap - 1
  }

  get size (): number {
    return this.#count + this.#other.size
  }

  /** Marks `cid`; false if a CID with the same multihash and codec was marked before. */
  mark (cid: CID): boolean {
    const bit = codecBit(cid.code)
    const mh = cid.multihash.bytes
    if (!isSha256(mh)) {
      const key = Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('latin1')
      const flags = this.#other.get(key) ?? 0
      if ((flags & bit) !== 0) return false
      this.#other.set(key, flags | bit)
      return true
    }
    const slot = this.#find(mh)
    const flags = this.#flags[slot] as number
    if ((flags & bit) !== 0) return false
    if (flags === 0) {
      this.#digests.set(mh.subarray(2, 34), slot * 32)
      this.#count++
    }
    this.#flags[slot] = flags | bit | 0x80
    if (flags === 0 && this.#count * 10 > (this.#mask + 1) * 7) this.#grow()
    return true
  }

  /** True if some CID with this multihash was marked. */
  has (mh: Uint8Array): boolean {
    if (!isSha256(mh)) return this.#other.has(Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('latin1'))
    return this.#flags[this.#find(mh)] !== 0
  }

  /** The slot holding this sha2-256 multihash's digest, or the empty slot where it would go. */
  #find (mh: Uint8Array): number {
    // Digest bytes are uniformly random: four of them are a good hash.
    let slot = (((mh[2] as number) << 24) | ((mh[3] as number) << 16) | ((mh[4] as number) << 8) | (mh[5] as number)) & this.#mask
    const d = this.#digests
    for (;;) {
      if (this.#flags[slot] === 0) return slot
      const base = slot * 32
      let same = true
      for (let i = 0; i < 32; i++) {
        if (d[base + i] !== mh[2 + i]) { same = false; break }
      }
      if (same) return slot
      slot = (slot + 1) & this.#mask
    }
  }

  #grow (): void {
    const digests = this.#digests
    const flags = this.#flags
    const cap = (this.#mask + 1) * 2
    this.#digests = new Uint8Array(cap * 32)
    this.#flags = new Uint8Array(cap)
    this.#mask = cap - 1
    const mh = new Uint8Array(34)
    mh[0] = SHA2_256
    mh[1] = 32
    for (let s = 0; s < flags.length; s++) {
      const f = flags[s] as number
      if (f === 0) continue
      mh.set(digests.subarray(s * 32, s * 32 + 32), 2)
      const slot = this.#find(mh)
      this.#digests.set(mh.subarray(2), slot * 32)
      this.#flags[slot] = f
    }
  }
}

function isSha256 (mh: Uint8Array): boolean {
  return mh.length === 34 && mh[0] === SHA2_256 && mh[1] === 32
}

/** Every CID a JSON value names: string properties named `cid`, and `{ "/": CID }` links. */
function collectJsonCids (value: unknown, out: CID[], depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 64) return
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string' && (k === 'cid' || (k === '/' && !Array.isArray(value)))) {
      try { out.push(CID.parse(v)) } catch { /* not a CID: nothing to keep */ }
    } else {
      collectJsonCids(v, out, depth + 1)
    }
  }
}

const textDecoder = new TextDecoder()

/** The CIDs a state value holds, as its kind declares. Unreadable values hold nothing. */
function rootsOf (how: StateRoots, value: Uint8Array, out: CID[]): void {
  try {
    if (how === 'cid') out.push(CID.decode(value))
    else if (how === 'cids') collectCids(dagCbor.decode(value), out)
    else if (how === 'json-cids') collectJsonCids(JSON.parse(textDecoder.decode(value)), out)
  } catch { /* not what the kind holds: nothing to keep */ }
}

/** What garbage collection uses: the repository's stores, Helia's pins and the write lock. */
export interface GcComponents {
  db: RepoDb
  state: StateReader
  helia: () => Promise<Pick<Helia, 'pins'>>
  exclusive: ServiceComponents['exclusive']
}

export interface GcInit {
  /** The kinds of state keys and the CIDs each holds (default STATE_KINDS). */
  stateKinds?: StateKinds
}

export function createGcService ({ db, state, helia, exclusive }: GcComponents, init: GcInit = {}): GcService {
  const kinds = init.stateKinds ?? STATE_KINDS

  /** Roots held in framehub's own state (every kind declared with roots) and index trees. */
  const stateRoots = async (): Promise<CID[]> => {
    const roots: CID[] = [EMPTY_TREE]
    // Every key, not a list of prefixes: a kind of key this code does not know stops the
    // collection instead of having its blocks swept.
    for await (const [key, value] of state.scan('')) {
      const kind = stateKindOf(key, kinds)
      if (kind == null) {
        throw new RepoCorruptError(`repository state key "${key.slice(0, 100)}" is of no kind this version of framehub knows: garbage collection cannot tell which blocks it holds, nothing was removed`)
      }
      // Kinds written outside the lock are read by pinRoots, before and after marking.
      if (kind.declared.roots !== false && kind.declared.unlocked !== true) rootsOf(kind.declared.roots, value, roots)
    }
    for await (const value of db.index.values({ gte: indexKeys.metaPrefix, lt: indexKeys.metaEnd })) {
      try { collectCids(dagCbor.decode(value), roots) } catch { /* a broken meta is rebuilt anyway */ }
    }
    return roots
  }

  /** Roots held for pinning: state written outside the lock (the pinning service's records) and Helia's own pins. */
  const pinRoots = async (options?: CallOptions): Promise<CID[]> => {
    const roots: CID[] = []
    for (const [kind, declared] of Object.entries(kinds)) {
      if (declared.unlocked !== true || declared.roots === false) continue
      if (declared.named) {
        for await (const [, value] of state.scan(`${kind} `)) rootsOf(declared.roots, value, roots)
      } else {
        const value = await state.bytes(kind)
        if (value !== undefined) rootsOf(declared.roots, value, roots)
      }
    }
    for await (const pin of (await helia()).pins.ls({ signal: options?.signal })) roots.push(pin.cid)
    return roots
  }

  /** Marks everything reachable from `roots` (blocks as they were at `snapshot`); iterative. */
  const mark = async (marks: MarkSet, roots: CID[], snapshot: AbstractSnapshot, options: GcOptions | undefined): Promise<number> => {
    let missing = 0
    const stack = [...roots]
    let walked = 0
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      if (!marks.mark(cid)) continue
      if (cid.code === RAW) continue
      if (++walked % BATCH === 0) {
        options?.signal?.throwIfAborted()
        options?.onProgress?.({ type: 'gc:mark:progress', detail: { phase: 'mark', blocks: marks.size } })
      }
      const bytes = cid.multihash.code === identity.code
        ? cid.multihash.digest
        : await db.blocks.get(blockKey(cid), { snapshot })
      if (bytes === undefined) {
        missing++
        continue
      }
      // A reachable block that is corrupt stops the collection (ERR_BLOCK_CORRUPT) before anything
      // is swept: its links cannot be known, and sweeping what it links to would lose them for good.
      if (cid.multihash.code !== identity.code) verifyBlock(cid, bytes)
      let links: CID[]
      try {
        links = linksOf(cid, bytes)
      } catch {
        continue // undecodable (or an unknown codec): kept, but has no links we can follow
      }
      for (let i = links.length - 1; i >= 0; i--) stack.push(links[i] as CID)
    }
    return missing
  }

  return {
    gc: async (options) => await exclusive(async () => {
      const dryRun = options?.dryRun === true
      // Blocks written after this point (Helia writes outside the lock) are never swept this time.
      const snapshot = db.db.snapshot()
      try {
        const marks = new MarkSet()
        const roots = [...await stateRoots(), ...await pinRoots(options)]
        let missing = await mark(marks, roots, snapshot, options)
        // Pins are added outside the lock: take the ones that came while marking too.
        const late = await pinRoots(options)
        missing += await mark(marks, late, snapshot, options)

        let removed = 0
        let kept = 0
        let bytesFreed = 0
        let garbage: string[] = []
        const flush = async (): Promise<void> => {
          if (garbage.length === 0) return
          const values = await db.blocks.getMany(garbage, { snapshot })
          for (const v of values) bytesFreed += v?.byteLength ?? 0
          if (!dryRun) await db.blocks.batch(garbage.map(key => ({ type: 'del' as const, key })))
          removed += garbage.length
          garbage = []
          options?.onProgress?.({ type: 'gc:sweep:progress', detail: { phase: 'sweep', blocks: removed + kept } })
        }
        for await (const key of db.blocks.keys({ snapshot })) {
          let mh: Uint8Array
          try {
            mh = base32upper.decode(key.slice(1))
          } catch {
            kept++ // not a block key this code wrote: not ours to remove
            continue
          }
          if (marks.has(mh)) kept++
          else garbage.push(key)
          if (garbage.length >= BATCH) {
            options?.signal?.throwIfAborted()
            await flush()
          }
        }
        await flush()
        return { removed, kept, bytesFreed, dryRun, roots: roots.length + late.length, missing }
      } finally {
        await snapshot.close()
      }
    })
  }
}
