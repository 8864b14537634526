/**
 * The stock anchors of the sync benchmark: what moving a trace DAG between two peers costs with
 * the stock IPFS tools, for comparison with framehub's one-round-trip CAR sync. The issue cites
 * them as "a stock bitswap walk of the same DAG (about 62 blocks/s here), stock bitswap fetching
 * the same blocks with all CIDs known and 32 in flight (about 1,100 blocks/s), and OrbitDB
 * replication of the same number of entries (about 166 entries/s)".
 *
 *   bitswap-walk       Node A holds a linear chain of N DAG-CBOR trace steps
 *                      ({ session, parents: [prev], op, content, time }, about 300 bytes each).
 *                      Node B knows only the head CID and walks it with `helia.blockstore.get`,
 *                      one block at a time (decode, follow `parents[0]`). This is what a peer
 *                      that only learns a head must do over plain bitswap: one round trip (plus
 *                      @helia/bitswap's wantlist debounce) per block. Default N = 300.
 *   bitswap-known      The same chain, but B is handed every CID up front and keeps 32
 *                      `blockstore.get` in flight: the best case of bitswap, where the DAG's
 *                      depth no longer serialises the round trips. Default N = 2,000.
 *   orbitdb-replicate  A adds N entries (the same step objects) to an OrbitDB 4 'events' log
 *                      (default access controller: A is the only writer), then B, with its own
 *                      OrbitDB in its own directory, dials A and opens the same address. Timed
 *                      from B's `open` until B's `all()` returns N entries (manifest fetch, head
 *                      exchange, log traversal over bitswap, signature checks); A's add time is
 *                      reported apart. Default N = 1,000.
 *
 * Both nodes live in the same process by default (one event loop). `BENCH_SYNC_PROCESSES=2` (or
 * `processes: 2`) runs node A in a child process instead (this file, internal modes `serve-chain`
 * and `serve-orbit`): closer to two real peers, but on the 2-core dev machine it measured slightly
 * slower for every anchor, so the default is the setting that favours the stock tools. Each node
 * has its own temp LevelBlockstore and LevelDatastore, Helia built light (`createHeliaLight` +
 * `withLibp2pLight` + `withBitswap`, codecs [dag-cbor]) and libp2p on loopback TCP only: no
 * bootstrap, no peer discovery, no delegated routing. Timing starts once B is connected to A and,
 * for the bitswap anchors, once one warm-up block has crossed (connection set-up and protocol
 * negotiation are not counted). Stock defaults are kept (e.g. @helia/bitswap's 10 ms wantlist
 * debounce). The rates depend heavily on the machine (syscall and loopback cost): compare them
 * with framehub's sync measured in the same run, not with numbers from elsewhere.
 *
 *   npx node scripts/bench/sync-anchors.ts bitswap-walk|bitswap-known|orbitdb-replicate [COUNT] [SEED]
 *
 * prints one JSON object on stdout (progress on stderr) and exits; a watchdog ends the process
 * (exit code 2) if a run hangs.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import * as dagCbor from '@ipld/dag-cbor'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createOrbitDB } from '@orbitdb/core'
import type { OrbitEventsDb } from '@orbitdb/core'
import { LevelBlockstore } from 'blockstore-level'
import { LevelDatastore } from 'datastore-level'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { cleanupAll, isMain, log, makeStep, now, perSecond, prng, round, tempDir } from './common.ts'

export type SyncAnchor = 'bitswap-walk' | 'bitswap-known' | 'orbitdb-replicate'

export const SYNC_ANCHORS: readonly SyncAnchor[] = ['bitswap-walk', 'bitswap-known', 'orbitdb-replicate']

/** Default sizes: the walk runs at 30-60 blocks/s, so keep it small and extrapolate. */
export const SYNC_ANCHOR_DEFAULTS: Readonly<Record<SyncAnchor, number>> = {
  'bitswap-walk': 300,
  'bitswap-known': 2_000,
  'orbitdb-replicate': 1_000
}

/** Blocks in flight of the `bitswap-known` anchor. */
export const KNOWN_CONCURRENCY = 32

export interface BitswapWalkResult {
  anchor: 'bitswap-walk'
  blocks: number
  ms: number
  blocksPerSecond: number
  msPerBlock: number
  /** Mean encoded size of a step block. */
  blockBytes: number
  /** 2: node A in a child process; 1: both nodes in this process. */
  processes: 1 | 2
  /** Node start, chain build on A, dial and warm-up (not in `ms`). */
  setupMs: number
}

export interface BitswapKnownResult {
  anchor: 'bitswap-known'
  blocks: number
  ms: number
  blocksPerSecond: number
  concurrency: number
  blockBytes: number
  processes: 1 | 2
  setupMs: number
}

export interface OrbitReplicateResult {
  anchor: 'orbitdb-replicate'
  entries: number
  /** From B's `open` to B's `all()` returning every entry. */
  ms: number
  entriesPerSecond: number
  /** A's sequential `add` of the entries (not in `ms`). */
  addMs: number
  processes: 1 | 2
  /** Node starts, A's OrbitDB open (not its adds), B's OrbitDB creation and dial (not in `ms`). */
  setupMs: number
}

export type SyncAnchorResult = BitswapWalkResult | BitswapKnownResult | OrbitReplicateResult

export interface SyncAnchorOptions {
  /** Parent dir of the two nodes' stores (default: a new temp dir, removed by `cleanupAll`). */
  dir?: string
  /** Gives up (throws) after this many ms of measured work (default: grows with the count). */
  timeoutMs?: number
  /** 1 (default): both nodes in this process; 2: node A runs in a child process. */
  processes?: 1 | 2
}

interface BenchNode {
  helia: HeliaWithLibp2p
  close: () => Promise<void>
}

/** A light Helia with bitswap on its own level stores, libp2p on loopback only. */
async function startNode (dir: string, withPubsub: boolean): Promise<BenchNode> {
  const blockstore = new LevelBlockstore(join(dir, 'blocks'))
  const datastore = new LevelDatastore(join(dir, 'data'))
  await blockstore.open()
  await datastore.open()
  const services = {
    identify: identify(),
    ping: ping(),
    ...(withPubsub ? { pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) } : {})
  }
  const networked = withLibp2pLight(createHeliaLight({ blockstore, datastore, codecs: [dagCbor] }), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    services
  })
  const helia = withBitswap(networked as unknown as HeliaWithLibp2p)
  await helia.start()
  return {
    helia,
    close: async () => {
      await helia.stop()
      await blockstore.close()
      await datastore.close()
    }
  }
}

async function readBlock (helia: HeliaWithLibp2p, cid: CID, signal: AbortSignal): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of helia.blockstore.get(cid, { signal })) chunks.push(chunk)
  return chunks.length === 1 ? chunks[0] as Uint8Array : Buffer.concat(chunks)
}

async function putBlock (helia: HeliaWithLibp2p, value: unknown): Promise<{ cid: CID, size: number }> {
  const bytes = dagCbor.encode(value)
  const cid = CID.createV1(dagCbor.code, await sha256.digest(bytes))
  await helia.blockstore.put(cid, bytes)
  return { cid, size: bytes.byteLength }
}

/** The step blocks: N linked DAG-CBOR blocks on A, oldest first (the last one is the head). */
async function buildChain (helia: HeliaWithLibp2p, count: number, seed: number): Promise<{ cids: CID[], bytes: number }> {
  const rand = prng(seed)
  const session = `bench-session-${seed}`
  const cids: CID[] = []
  let bytes = 0
  let prev: CID | undefined
  for (let i = 0; i < count; i++) {
    const { op, content } = makeStep(rand, i)
    const block = { session, parents: prev == null ? [] : [prev], op, content, time: 1_700_000_000_000 + i * 1_000 }
    const put = await putBlock(helia, block)
    cids.push(put.cid)
    bytes += put.size
    prev = put.cid
  }
  return { cids, bytes }
}

/** What B learns from A: A's address and, for the bitswap anchors, the chain. */
interface ChainInfo {
  addr: string
  /** Oldest first; the last one is the head. */
  cids: string[]
  warmup: string
  blockBytes: number
}

interface OrbitInfo {
  addr: string
  dbAddress: string
  addMs: number
  setupMs: number
}

/** Node A, in this process or in a child process (`processes: 2`). */
interface PeerA<T> {
  info: T
  close: () => Promise<void>
}

/** A's side of the bitswap anchors: the chain and one warm-up block. */
async function serveChain (dir: string, count: number, seed: number): Promise<PeerA<ChainInfo>> {
  const a = await startNode(dir, false)
  try {
    log(`chain: building ${count} blocks on A`)
    const { cids, bytes } = await buildChain(a.helia, count, seed)
    const warmup = await putBlock(a.helia, { warmup: seed })
    const addr = a.helia.libp2p.getMultiaddrs()[0]
    if (addr == null) throw new Error('node A has no listen address')
    return {
      info: { addr: addr.toString(), cids: cids.map(c => c.toString()), warmup: warmup.cid.toString(), blockBytes: Math.round(bytes / Math.max(1, count)) },
      close: a.close
    }
  } catch (err) {
    await a.close()
    throw err
  }
}

/** A's side of the OrbitDB anchor: an 'events' log of `count` entries, A the only writer. */
async function serveOrbit (dir: string, count: number, seed: number): Promise<PeerA<OrbitInfo>> {
  const t0 = now()
  const a = await startNode(dir, true)
  const stops: Array<() => Promise<void>> = [a.close]
  const close = async (): Promise<void> => {
    for (const stop of stops.splice(0)) {
      try {
        await stop()
      } catch (err) {
        log(`orbitdb: close failed: ${String(err)}`)
      }
    }
  }
  try {
    const orbit = await createOrbitDB({ ipfs: a.helia, id: 'bench-a', directory: join(dir, 'orbitdb') })
    stops.unshift(async () => { await orbit.stop() })
    const db = await orbit.open('framehub-bench-sync', { type: 'events' })
    stops.unshift(async () => { await db.close() })
    const setupMs = now() - t0
    const rand = prng(seed)
    const values = Array.from({ length: count }, (_, i) => makeStep(rand, i))
    log(`orbitdb: A adds ${count} entries`)
    const addStart = now()
    for (let i = 0; i < values.length; i++) {
      await db.add(values[i])
      if ((i + 1) % 250 === 0) log(`orbitdb: added ${i + 1}/${count} (${perSecond(i + 1, now() - addStart)}/s)`)
    }
    const addMs = now() - addStart
    const addr = a.helia.libp2p.getMultiaddrs()[0]
    if (addr == null) throw new Error('node A has no listen address')
    return { info: { addr: addr.toString(), dbAddress: db.address, addMs: round(addMs), setupMs: round(setupMs) }, close }
  } catch (err) {
    await close()
    throw err
  }
}

const SELF = fileURLToPath(import.meta.url)

/**
 * Node A in a child process (this file, mode `serve-chain` or `serve-orbit`): it prints its info
 * as one JSON line, then serves until its stdin closes (or its own watchdog fires).
 */
async function spawnPeerA<T> (mode: 'serve-chain' | 'serve-orbit', dir: string, count: number, seed: number, timeoutMs: number): Promise<PeerA<T>> {
  const child = spawn(process.execPath, [SELF, mode, String(count), String(seed), dir], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  child.stdin.on('error', () => {}) // EPIPE if A is already gone: its exit is what matters
  const kill = (): void => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL') }
  const close = async (): Promise<void> => {
    child.stdin.end()
    const timer = setTimeout(kill, 10_000)
    await exited
    clearTimeout(timer)
  }
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => { reject(new Error(`${mode}: no answer from node A within ${timeoutMs} ms`)) }, timeoutMs)
      child.stdout.setEncoding('utf8')
      child.stdout.on('data', (chunk: string) => {
        out += chunk
        const nl = out.indexOf('\n')
        if (nl >= 0) { clearTimeout(timer); resolve(out.slice(0, nl)) }
      })
      child.once('exit', code => { clearTimeout(timer); reject(new Error(`${mode}: node A exited with code ${code}`)) })
    })
    return { info: JSON.parse(line) as T, close }
  } catch (err) {
    kill()
    await exited
    throw err
  }
}

/** Runs node A for the CLI modes `serve-chain` / `serve-orbit`, until stdin closes. */
async function servePeerA (mode: 'serve-chain' | 'serve-orbit', count: number, seed: number, dir: string): Promise<void> {
  const peer = mode === 'serve-chain' ? await serveChain(dir, count, seed) : await serveOrbit(dir, count, seed)
  process.stdout.write(JSON.stringify(peer.info) + '\n')
  await new Promise<void>(resolve => {
    process.stdin.once('end', resolve)
    process.stdin.once('close', resolve)
    process.stdin.resume()
  })
  await peer.close()
}

async function peerA<T> (mode: 'serve-chain' | 'serve-orbit', dir: string, count: number, seed: number, options: SyncAnchorOptions, serve: (dir: string, count: number, seed: number) => Promise<PeerA<T>>): Promise<PeerA<T>> {
  return (options.processes ?? 1) === 2
    ? await spawnPeerA<T>(mode, dir, count, seed, 60_000 + count * 50)
    : await serve(dir, count, seed)
}

/** Node A with the chain, node B connected to it and one warm-up block fetched by B. */
async function bitswapPair (name: string, count: number, seed: number, options: SyncAnchorOptions): Promise<{ a: PeerA<ChainInfo>, b: BenchNode, cids: CID[], setupMs: number }> {
  const t0 = now()
  const dir = options.dir ?? await tempDir(name)
  const a = await peerA('serve-chain', join(dir, 'a'), count, seed, options, serveChain)
  let b: BenchNode | undefined
  try {
    b = await startNode(join(dir, 'b'), false)
    await b.helia.libp2p.dial(multiaddr(a.info.addr), { signal: AbortSignal.timeout(10_000) })
    await readBlock(b.helia, CID.parse(a.info.warmup), AbortSignal.timeout(15_000))
    return { a, b, cids: a.info.cids.map(c => CID.parse(c)), setupMs: round(now() - t0) }
  } catch (err) {
    await b?.close()
    await a.close()
    throw err
  }
}

const deadline = (options: SyncAnchorOptions, fallbackMs: number): AbortSignal => AbortSignal.timeout(options.timeoutMs ?? fallbackMs)

/** Anchor 1: B walks the chain from its head, one `blockstore.get` at a time. */
export async function benchBitswapWalk (count: number = SYNC_ANCHOR_DEFAULTS['bitswap-walk'], seed = 42, options: SyncAnchorOptions = {}): Promise<BitswapWalkResult> {
  if (count < 1) throw new Error('bitswap-walk needs at least one block')
  const { a, b, cids, setupMs } = await bitswapPair('bitswap-walk', count, seed, options)
  try {
    const signal = deadline(options, 60_000 + count * 200)
    log(`bitswap-walk: B walks ${count} blocks from the head`)
    let next: CID | undefined = cids[cids.length - 1]
    let blocks = 0
    const start = now()
    while (next != null) {
      const bytes = await readBlock(b.helia, next, signal)
      const step = dagCbor.decode<{ parents: unknown[] }>(bytes)
      blocks++
      if (blocks % 100 === 0) log(`bitswap-walk: ${blocks}/${count} (${perSecond(blocks, now() - start)}/s)`)
      next = step.parents[0] == null ? undefined : CID.asCID(step.parents[0]) ?? undefined
    }
    const ms = now() - start
    if (blocks !== count) throw new Error(`bitswap-walk: walked ${blocks} blocks, expected ${count}`)
    return { anchor: 'bitswap-walk', blocks, ms: round(ms), blocksPerSecond: perSecond(blocks, ms), msPerBlock: round(ms / blocks, 2), blockBytes: a.info.blockBytes, processes: options.processes ?? 1, setupMs }
  } finally {
    await b.close()
    await a.close()
  }
}

/** Anchor 2: B knows every CID and fetches them with `KNOWN_CONCURRENCY` gets in flight. */
export async function benchBitswapKnown (count: number = SYNC_ANCHOR_DEFAULTS['bitswap-known'], seed = 42, options: SyncAnchorOptions = {}): Promise<BitswapKnownResult> {
  if (count < 1) throw new Error('bitswap-known needs at least one block')
  const { a, b, cids, setupMs } = await bitswapPair('bitswap-known', count, seed, options)
  try {
    const signal = deadline(options, 60_000 + count * 20)
    log(`bitswap-known: B fetches ${count} known CIDs, ${KNOWN_CONCURRENCY} in flight`)
    // Head first, like a walk would want them; each worker takes the next CID not yet asked for.
    const order = cids.toReversed()
    let taken = 0
    let fetched = 0
    const start = now()
    const worker = async (): Promise<void> => {
      while (taken < order.length) {
        const cid = order[taken++] as CID
        await readBlock(b.helia, cid, signal)
        fetched++
        if (fetched % 500 === 0) log(`bitswap-known: ${fetched}/${count} (${perSecond(fetched, now() - start)}/s)`)
      }
    }
    await Promise.all(Array.from({ length: Math.min(KNOWN_CONCURRENCY, order.length) }, worker))
    const ms = now() - start
    if (fetched !== count) throw new Error(`bitswap-known: fetched ${fetched} blocks, expected ${count}`)
    return { anchor: 'bitswap-known', blocks: fetched, ms: round(ms), blocksPerSecond: perSecond(fetched, ms), concurrency: KNOWN_CONCURRENCY, blockBytes: a.info.blockBytes, processes: options.processes ?? 1, setupMs }
  } finally {
    await b.close()
    await a.close()
  }
}

/** `promise`, or a rejection once `signal` aborts (OrbitDB's `open` takes no signal). */
async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal, message: string): Promise<T> {
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(new Error(message)) }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

/** Resolves with the number of entries once B's `all()` returns `count` of them (rejects on `signal`). */
async function untilReplicated (db: OrbitEventsDb, count: number, signal: AbortSignal): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    let checking = false
    let again = false
    let last = -1
    const finish = (err: Error | null, n = 0): void => {
      clearInterval(poll)
      signal.removeEventListener('abort', onAbort)
      db.events.off('update', check)
      db.events.off('join', check)
      if (err != null) reject(err)
      else resolve(n)
    }
    // One `all()` at a time: a check asked for while one runs is run right after it.
    const check = (): void => {
      if (checking) { again = true; return }
      checking = true
      db.all().then(all => {
        checking = false
        if (all.length !== last) { last = all.length; log(`orbitdb-replicate: B has ${last}/${count}`) }
        if (all.length >= count) finish(null, all.length)
        else if (again) { again = false; check() }
      }, (err: unknown) => { finish(err instanceof Error ? err : new Error(String(err))) })
    }
    const onAbort = (): void => { finish(new Error(`orbitdb-replicate: B has ${last}/${count} entries when the time ran out`)) }
    const poll = setInterval(check, 250)
    signal.addEventListener('abort', onAbort, { once: true })
    db.events.on('update', check)
    db.events.on('join', check)
    check()
  })
}

/** Anchor 3: OrbitDB replication of N 'events' entries from A to a fresh B. */
export async function benchOrbitdbReplicate (count: number = SYNC_ANCHOR_DEFAULTS['orbitdb-replicate'], seed = 42, options: SyncAnchorOptions = {}): Promise<OrbitReplicateResult> {
  if (count < 1) throw new Error('orbitdb-replicate needs at least one entry')
  const dir = options.dir ?? await tempDir('orbitdb-replicate')
  const a = await peerA('serve-orbit', join(dir, 'a'), count, seed, options, serveOrbit)
  const stops: Array<() => Promise<void>> = [a.close]
  try {
    const t1 = now()
    const b = await startNode(join(dir, 'b'), true)
    stops.unshift(b.close)
    const orbitB = await createOrbitDB({ ipfs: b.helia, id: 'bench-b', directory: join(dir, 'b', 'orbitdb') })
    stops.unshift(async () => { await orbitB.stop() })
    await b.helia.libp2p.dial(multiaddr(a.info.addr), { signal: AbortSignal.timeout(10_000) })
    const setupMs = a.info.setupMs + (now() - t1)

    log(`orbitdb-replicate: B opens ${a.info.dbAddress} and replicates`)
    const signal = deadline(options, 60_000 + count * 100)
    const start = now()
    const dbB = await untilAborted(orbitB.open(a.info.dbAddress), signal, 'orbitdb-replicate: B could not open the database in time')
    stops.unshift(async () => { await dbB.close() })
    const have = await untilReplicated(dbB, count, signal)
    const ms = now() - start
    return { anchor: 'orbitdb-replicate', entries: have, ms: round(ms), entriesPerSecond: perSecond(have, ms), addMs: a.info.addMs, processes: options.processes ?? 1, setupMs: round(setupMs) }
  } finally {
    for (const stop of stops) {
      try {
        await stop()
      } catch (err) {
        log(`orbitdb-replicate: close failed: ${String(err)}`)
      }
    }
  }
}

export async function runSyncAnchor (which: SyncAnchor, count = SYNC_ANCHOR_DEFAULTS[which], seed = 42, options: SyncAnchorOptions = {}): Promise<SyncAnchorResult> {
  switch (which) {
    case 'bitswap-walk': return await benchBitswapWalk(count, seed, options)
    case 'bitswap-known': return await benchBitswapKnown(count, seed, options)
    case 'orbitdb-replicate': return await benchOrbitdbReplicate(count, seed, options)
  }
}

if (isMain(import.meta.url)) {
  const [which, countArg, seedArg, dirArg] = process.argv.slice(2)
  // Ends by itself even if something hangs (BENCH_SYNC_MAX_MIN minutes, default 20).
  const watchdog = setTimeout(() => {
    log(`sync-anchors ${which}: timed out, giving up`)
    void cleanupAll().finally(() => process.exit(2))
  }, Number(process.env.BENCH_SYNC_MAX_MIN ?? 20) * 60_000)
  watchdog.unref()
  let code = 0
  try {
    if (which === 'serve-chain' || which === 'serve-orbit') {
      // Internal: node A of a two-process run (see spawnPeerA).
      if (countArg == null || seedArg == null || dirArg == null) throw new Error(`usage: sync-anchors.ts ${which} COUNT SEED DIR`)
      await servePeerA(which, Number(countArg), Number(seedArg), dirArg)
    } else {
      if (which == null || !(SYNC_ANCHORS as readonly string[]).includes(which)) {
        throw new Error(`usage: sync-anchors.ts ${SYNC_ANCHORS.join('|')} [COUNT] [SEED]`)
      }
      const anchor = which as SyncAnchor
      const count = countArg == null ? SYNC_ANCHOR_DEFAULTS[anchor] : Number(countArg)
      const seed = seedArg == null ? 42 : Number(seedArg)
      if (!Number.isInteger(count) || count < 1) throw new Error(`COUNT must be a positive integer, got "${countArg}"`)
      if (!Number.isInteger(seed)) throw new Error(`SEED must be an integer, got "${seedArg}"`)
      const processes = process.env.BENCH_SYNC_PROCESSES === '2' ? 2 : 1
      const result = await runSyncAnchor(anchor, count, seed, { processes })
      process.stdout.write(JSON.stringify(result) + '\n')
    }
  } catch (err) {
    log(`sync-anchors ${which} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    code = 1
  } finally {
    await cleanupAll()
  }
  // libp2p timers must not keep the process alive once the numbers are out.
  process.exit(code)
}
