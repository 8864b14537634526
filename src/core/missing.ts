import { CID } from 'multiformats/cid'
import { walkClosure } from './closure.ts'
import type { ManyReader } from './closure.ts'
import { cidKey, DAG_CBOR } from './cid.ts'
import { decodeCbor } from './block.ts'
import type { Block } from './block.ts'
import { looksLikeCommit } from './commit.ts'
import { dependenciesFirst } from './order.ts'
import { pacer } from './pace.ts'
import { looksLikeTraceStep } from './trace-step.ts'
import { diffTrees } from './tree/index.ts'
import type { BlockReader } from './tree/index.ts'

/**
 * What a peer that holds `haves` lacks of the DAG under `want`: the negotiation-free half of a
 * Git fetch, computed by the side that has `want`.
 *
 * The history (commits by `parents`, trace steps by `parents`, and the session heads a commit
 * names) is painted from both ends in one pass, newest first (by `time`), as Git's
 * paint-down-to-common does: nodes reached only from `want` are new, nodes reached from a have
 * are the peer's, and the walk stops as soon as nothing new is left in the queue. So a step
 * appended to a 10,000-step session costs a few reads, not 10,000.
 * For every new commit, the tree is diffed against its parent's tree, so only the tree nodes and
 * frames that changed are sent (O(changes · depth)); for a commit without a usable parent, and
 * for what steps and frames link to, the closure is walked, skipping what is already known to
 * be the peer's or already sent.
 *
 * It may yield a few blocks the peer already has (a frame also under another id, a node painted
 * new because clocks disagree); it never leaves out one the peer lacks, provided that the peer's
 * haves have complete closures on its side (which every framehub repository guarantees).
 * Blocks are yielded each once, `want` first.
 */
export async function * missingBlocks (reader: BlockReader & Partial<ManyReader>, want: CID, haves: CID[], options: { signal?: AbortSignal } = {}): AsyncGenerator<Block> {
  const { signal } = options
  const known = new Set<string>()
  const wantKey = cidKey(want)
  for (const h of haves) known.add(cidKey(h))
  if (known.has(wantKey)) return

  // Haves this side does not hold say nothing: with none left, everything under `want` is new,
  // and it streams at once (no painting first).
  const held = reader.getMany != null ? await reader.getMany(haves, { signal }) : []
  if (haves.length === 0 || (reader.getMany != null && held.every(b => b === undefined))) {
    yield * walkClosure(reader, want, { signal, seen: known })
    return
  }
  const history = await paintHistory(reader, want, haves, signal)
  if (history == null) {
    // Not a commit or a step: its closure, less what the peer named.
    yield * walkClosure(reader, want, { signal, seen: known })
    return
  }
  for (const key of history.theirs) known.add(key)

  // New history nodes first (want first), each followed by what it alone brings.
  for (const node of history.ours) {
    known.add(node.key)
    yield { cid: node.cid, bytes: node.bytes }
  }
  // Then what each brings, parents before children: a tree is diffed only against a parent's
  // tree that the peer will hold whole (the peer's own, or one already sent here). Diffing
  // against a tree still to be sent would mark its shared nodes as sent without their frames.
  const whole = new Set(history.theirs)
  for (const node of parentsFirst(history.ours)) {
    signal?.throwIfAborted()
    if (node.tree != null) {
      const base = node.parents.map(p => history.byKey.get(cidKey(p))).find(p => p?.tree != null && whole.has(p.key))?.tree
      if (base != null) yield * treeChanges(reader, base, node.tree, known, signal)
      else yield * walkClosure(reader, node.tree, { signal, seen: known })
    }
    for (const link of node.others) yield * walkClosure(reader, link, { signal, seen: known })
    whole.add(node.key)
  }
}

/** `nodes` ordered so that every node comes after those of its parents that are among them. */
function parentsFirst (nodes: HistoryNode[]): HistoryNode[] {
  const byKey = new Map(nodes.map(n => [n.key, n]))
  return dependenciesFirst(nodes, n => n.parents.map(p => byKey.get(cidKey(p))).filter(p => p != null))
}

interface HistoryNode {
  cid: CID
  key: string
  bytes: Uint8Array
  time: number
  /** History links: commit or step parents, and the session heads a commit names. */
  parents: CID[]
  /** A commit's tree. */
  tree?: CID
  /** Other links of a step (its input and output frames). */
  others: CID[]
}

const WANT = 1
const HAVE = 2

/** Decodes a commit or trace step; undefined for anything else. */
function historyNode (cid: CID, bytes: Uint8Array): HistoryNode | undefined {
  if (cid.code !== DAG_CBOR) return undefined
  let value: Record<string, unknown>
  try {
    value = decodeCbor(cid, bytes) as Record<string, unknown>
  } catch {
    return undefined
  }
  const cids = (v: unknown): CID[] => Array.isArray(v) ? v.filter(isCid) : []
  // A consensus commit has no time (every node makes the same one): it comes after its parents,
  // so it is painted as the newest, at once. With time 0 it came out last, after every timed
  // commit below it, and the walk went down the whole history before it stopped.
  const time = typeof value.time === 'number' ? value.time : Number.MAX_SAFE_INTEGER
  if (looksLikeCommit(value)) {
    return { cid, key: cidKey(cid), bytes, time, parents: [...cids(value.parents), ...cids(value.sessions)], tree: isCid(value.tree) ? value.tree : undefined, others: [] }
  }
  if (looksLikeTraceStep(value)) {
    return { cid, key: cidKey(cid), bytes, time, parents: cids(value.parents), others: [...cids(value.inputs), ...cids(value.outputs)] }
  }
  return undefined
}

function isCid (v: unknown): v is CID {
  return CID.asCID(v) != null
}

/** A max-heap of history nodes by time (newest first), ties broken by key for determinism. */
class NewestFirst {
  readonly #items: HistoryNode[] = []
  get size (): number { return this.#items.length }
  #before (a: HistoryNode, b: HistoryNode): boolean {
    return a.time !== b.time ? a.time > b.time : a.key > b.key
  }

  push (node: HistoryNode): void {
    const items = this.#items
    items.push(node)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#before(items[i] as HistoryNode, items[parent] as HistoryNode)) break
      ;[items[i], items[parent]] = [items[parent] as HistoryNode, items[i] as HistoryNode]
      i = parent
    }
  }

  pop (): HistoryNode | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last != null) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let best = i
        if (l < items.length && this.#before(items[l] as HistoryNode, items[best] as HistoryNode)) best = l
        if (r < items.length && this.#before(items[r] as HistoryNode, items[best] as HistoryNode)) best = r
        if (best === i) break
        ;[items[i], items[best]] = [items[best] as HistoryNode, items[i] as HistoryNode]
        i = best
      }
    }
    return top
  }
}

interface History {
  /** New to the peer, in the order painted (newest first; `want` first). */
  ours: HistoryNode[]
  /** Keys of history nodes reached from a have: the peer has them. */
  theirs: Set<string>
  /** Every history node read, by key. */
  byKey: Map<string, HistoryNode>
}

async function paintHistory (reader: BlockReader & Partial<ManyReader>, want: CID, haves: CID[], signal?: AbortSignal): Promise<History | undefined> {
  const root = historyNode(want, await reader.get(want, { signal }))
  if (root == null) return undefined
  const flags = new Map<string, number>()
  const byKey = new Map<string, HistoryNode>([[root.key, root]])
  const queue = new NewestFirst()
  const queued = new Set<string>()
  /** Queued nodes painted WANT only: the walk ends when there are none. */
  let pendingWant = 0

  const paint = async (cids: CID[], flag: number): Promise<void> => {
    const fresh: CID[] = []
    for (const cid of cids) {
      const key = cidKey(cid)
      const before = flags.get(key) ?? 0
      const after = before | flag
      if (after === before) continue
      flags.set(key, after)
      if (before === 0) fresh.push(cid)
      else if (before === WANT && queued.has(key)) pendingWant-- // still queued, now also theirs
    }
    if (fresh.length === 0) return
    // A have this side lacks is simply not painted; a missing want is an error of `get`.
    const bytes = reader.getMany != null ? await reader.getMany(fresh, { signal }) : await Promise.all(fresh.map(async c => await reader.get(c, { signal }).catch(() => undefined)))
    for (let i = 0; i < fresh.length; i++) {
      const cid = fresh[i] as CID
      let data = bytes[i]
      if (data === undefined) {
        if (flag === HAVE) continue
        data = await reader.get(cid, { signal })
      }
      const node = byKey.get(cidKey(cid)) ?? historyNode(cid, data)
      if (node == null) continue // a frame or other block named as a parent: left to the closure walks
      byKey.set(node.key, node)
      queue.push(node)
      queued.add(node.key)
      if (((flags.get(node.key) ?? 0) & HAVE) === 0) pendingWant++
    }
  }

  flags.set(root.key, WANT)
  queue.push(root)
  queued.add(root.key)
  pendingWant = 1
  await paint(haves, HAVE)

  const ours: HistoryNode[] = []
  const theirs = new Set<string>()
  const pace = pacer()
  while (pendingWant > 0) {
    signal?.throwIfAborted()
    await pace()
    const node = queue.pop()
    if (node == null) break
    queued.delete(node.key)
    const flag = flags.get(node.key) ?? 0
    if ((flag & HAVE) !== 0) {
      theirs.add(node.key)
      await paint(node.parents, HAVE)
    } else {
      pendingWant--
      ours.push(node)
      await paint(node.parents, WANT)
    }
  }
  // Whatever is still queued with a HAVE flag is the peer's too.
  for (const [key, flag] of flags) if ((flag & HAVE) !== 0) theirs.add(key)
  return { ours: ours.filter(n => !theirs.has(n.key)), theirs, byKey }
}

/** The nodes of tree `next` not shared with `base`, and the closures of the frames it changed. */
async function * treeChanges (reader: BlockReader & Partial<ManyReader>, base: CID, next: CID, known: Set<string>, signal?: AbortSignal): AsyncGenerator<Block> {
  const nodes: Block[] = []
  const changed: CID[] = []
  for await (const change of diffTrees(reader, base, next, { signal, onReadB: (n) => { nodes.push({ cid: n.cid, bytes: n.bytes }) } })) {
    if (change.after != null) changed.push(change.after)
    // Flush as we go: a large diff must not sit in memory.
    for (const node of nodes.splice(0)) {
      const key = cidKey(node.cid)
      if (known.has(key)) continue
      known.add(key)
      yield node
    }
  }
  for (const node of nodes) {
    const key = cidKey(node.cid)
    if (known.has(key)) continue
    known.add(key)
    yield node
  }
  for (const cid of changed) yield * walkClosure(reader, cid, { signal, seen: known })
}
