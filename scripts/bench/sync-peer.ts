/**
 * Node A of the sync benchmark (scripts/bench/sync.ts), in its own process: a framehub node on
 * loopback that builds the data node B syncs, driven by one JSON command per line on stdin and
 * answering one JSON line per command on stdout (progress on stderr).
 *
 *   npx node scripts/bench/sync-peer.ts REPO_DIR
 *
 * prints `{ ready: true, peerId, addrs }` once listening, then serves commands until stdin closes
 * or `{ op: 'close' }` arrives; a watchdog (BENCH_SYNC_PEER_MAX_MIN, default 60 minutes) ends it
 * if the bench that drives it hangs. Times sent back across processes are epoch milliseconds from
 * `performance.timeOrigin + performance.now()` (sub-millisecond; `clock` lets the driver estimate
 * the offset between the two processes' clocks).
 *
 * Commands (each answers `{ id, ok: true, ... }` or `{ id, ok: false, error }`):
 *   clock                              { at }  (epoch ms)
 *   import  { frames, frameBytes, seed }  imports the frames on `main` and commits:
 *                                      { commit, tree, importMs, commitMs }
 *   chain   { steps, seed, session }    appends a linear session (each step's parent the previous
 *                                      one) and one warm-up step in its own session:
 *                                      { head, warmup, ms, stepsPerSecond }
 *   live-setup                         commits the dirty session heads on a side branch (so the
 *                                      live commits name no session), creates `shared/main` from
 *                                      `main`, checks it out and waits for its first publish:
 *                                      { head, publishMs, checked }
 *   live-commit { i, frame, frameBytes, seed }  changes one frame on shared/main and commits:
 *                                      { commit, returnedAt, putMs, commitMs, publishedAt, publishMs }
 *                                      (publishedAt: A's own `publish` event for the commit, or null
 *                                      if it did not come within 10 s; the answer waits for it)
 *   walk    { want, have }              the sync server's work alone, twice: missingBlocks over the
 *                                      store (walk), then walk + CAR encoding (no network):
 *                                      { blocks, carBytes, walkMs, walkCarMs, reads } (reads:
 *                                      the walk's get / getMany calls, keys and ms)
 *   index-catch-up { branch }          brings the branch's frame index up to its head
 *   profile-start { intervalUs } / profile-stop { path }   V8 CPU profile of this process
 *   close                              closes the node and exits
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { missingBlocks } from '../../src/core/missing.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { frameId, generateFrameLines, log, makeFrame, makeStep, now, perSecond, prng, round } from './common.ts'

/** Only types may be imported from this file: importing it runs node A. */
export interface PeerCommand {
  id: number
  op: 'clock' | 'import' | 'chain' | 'live-setup' | 'live-commit' | 'walk' | 'index-catch-up' | 'profile-start' | 'profile-stop' | 'close'
  [key: string]: unknown
}

/** Epoch milliseconds with sub-millisecond resolution (comparable across processes of one machine). */
const epochNow = (): number => performance.timeOrigin + performance.now()

const PUBLISH_WAIT_MS = 10_000

async function main (repoDir: string): Promise<void> {
  const node: FramehubNode = await createNode({
    repo: repoDir,
    create: true,
    // Sessions are not auto-published: B syncs the chain by hand; shared/* commits are (live part).
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], network: 'bench-sync', autoPublish: true, sessionPublishMs: 0 }
  })
  const network = node.network
  if (network == null) throw new Error('node A has no network')

  /** Epoch time of A's own `publish` events, by published head. */
  const published = new Map<string, number>()
  const publishWaiters = new Map<string, (at: number) => void>()
  node.events.subscribe((e) => {
    if (e.type !== 'publish') return
    const head = (e.detail as { head: string | null }).head
    if (head == null) return
    const at = epochNow()
    published.set(head, at)
    publishWaiters.get(head)?.(at)
  })
  const waitPublished = async (head: string, timeoutMs: number): Promise<number | null> => {
    const seen = published.get(head)
    if (seen != null) return seen
    return await new Promise<number | null>(resolve => {
      const timer = setTimeout(() => { publishWaiters.delete(head); resolve(null) }, timeoutMs)
      publishWaiters.set(head, (at) => { clearTimeout(timer); publishWaiters.delete(head); resolve(at) })
    })
  }

  let session: Session | undefined
  let closing = false

  const handlers: Record<PeerCommand['op'], (cmd: PeerCommand) => Promise<Record<string, unknown>>> = {
    clock: async () => ({ at: epochNow() }),

    import: async (cmd) => {
      const frames = Number(cmd.frames)
      log(`sync peer A: generating and importing ${frames} frames`)
      const lines = generateFrameLines(frames, Number(cmd.frameBytes), Number(cmd.seed))
      const t0 = now()
      const imported = await node.frames.import(lines, { source: 'bench-sync.ndjson' })
      const importMs = now() - t0
      if (imported.frames !== frames) throw new Error(`import stored ${imported.frames} frames, expected ${frames}`)
      const t1 = now()
      const committed = await node.commits.commit({ message: `import ${frames} bench frames` })
      const commitMs = now() - t1
      log(`sync peer A: ${frames} frames imported in ${round(importMs)} ms, committed in ${round(commitMs)} ms`)
      return { commit: committed.commit.toString(), tree: committed.tree.toString(), importMs: round(importMs), commitMs: round(commitMs), sessions: committed.sessions.length }
    },

    chain: async (cmd) => {
      const steps = Number(cmd.steps)
      const name = String(cmd.session)
      const rand = prng(Number(cmd.seed))
      log(`sync peer A: appending ${steps} steps to ${name}`)
      const t0 = now()
      let head: CID | undefined
      for (let i = 0; i < steps; i++) {
        head = (await node.traces.append(name, makeStep(rand, i))).cid
        if ((i + 1) % 2500 === 0) log(`sync peer A: ${i + 1}/${steps} steps (${perSecond(i + 1, now() - t0)}/s)`)
      }
      const ms = now() - t0
      if (head == null) throw new Error('chain needs at least one step')
      const warmup = (await node.traces.append(`${name}-warmup`, makeStep(rand, 0))).cid
      return { head: head.toString(), warmup: warmup.toString(), ms: round(ms), stepsPerSecond: perSecond(steps, ms) }
    },

    'live-setup': async () => {
      // The dirty session heads (chain, warm-up) go into a commit on a side branch, so that the
      // live commits on shared/main name no session and carry one frame's change only.
      await node.refs.checkout('bench/sessions', { create: true })
      await node.commits.commit({ message: 'bench: session heads', allowEmpty: true })
      await node.refs.checkout('main')
      const t0 = now()
      const created = await node.refs.createBranch('shared/main', 'main')
      await node.refs.checkout('shared/main')
      // The branch creation publishes (a full coherence check the first time): wait for it.
      const at = await waitPublished(created.commit.toString(), 10 * 60_000)
      if (at == null) throw new Error('shared/main was not published within 10 minutes')
      const publishMs = now() - t0
      const own = await network.ownEntries(1)
      log(`sync peer A: shared/main created and published in ${round(publishMs)} ms`)
      return { head: created.commit.toString(), publishMs: round(publishMs), entries: own.length }
    },

    'live-commit': async (cmd) => {
      const i = Number(cmd.i)
      const index = Number(cmd.frame)
      const rand = prng(Number(cmd.seed) + 1000 + i)
      const frame = makeFrame(rand, index, Number(cmd.frameBytes), i + 1)
      if (frame.id !== frameId(index)) throw new Error('frame id mismatch')
      const t0 = now()
      await node.frames.put(frame)
      const t1 = now()
      const committed = await node.commits.commit({ message: `live ${i}` })
      const returnedAt = epochNow()
      const t2 = now()
      const commit = committed.commit.toString()
      const publishedAt = await waitPublished(commit, PUBLISH_WAIT_MS)
      return {
        commit,
        branch: committed.branch,
        returnedAt,
        putMs: round(t1 - t0, 2),
        commitMs: round(t2 - t1, 2),
        publishedAt,
        publishMs: publishedAt == null ? null : round(publishedAt - returnedAt, 2)
      }
    },

    walk: async (cmd) => {
      const want = CID.parse(String(cmd.want))
      const have = (cmd.have as string[] | undefined ?? []).map(h => CID.parse(h))
      const blocksStore = node.repo.blocks
      // The walk alone, with its reads counted: one LevelDB round trip per get / getMany call.
      const reads = { get: { calls: 0, keys: 0, ms: 0 }, getMany: { calls: 0, keys: 0, ms: 0 } }
      const counted = {
        get: async (cid: CID, o?: { signal?: AbortSignal }) => {
          const t = now()
          try { return await blocksStore.get(cid, o) } finally { reads.get.calls++; reads.get.keys++; reads.get.ms += now() - t }
        },
        getMany: async (cids: CID[], o?: { signal?: AbortSignal }) => {
          const t = now()
          try { return await blocksStore.getMany(cids, o) } finally { reads.getMany.calls++; reads.getMany.keys += cids.length; reads.getMany.ms += now() - t }
        }
      }
      let t0 = now()
      let blocks = 0
      let blockBytes = 0
      for await (const block of missingBlocks(counted, want, have)) { blocks++; blockBytes += block.bytes.byteLength }
      const walkMs = now() - t0
      reads.get.ms = round(reads.get.ms)
      reads.getMany.ms = round(reads.getMany.ms)
      t0 = now()
      const { writer, out } = CarWriter.create([want])
      const feeding = (async () => {
        try {
          for await (const block of missingBlocks(blocksStore, want, have)) await writer.put(block)
        } finally {
          await writer.close()
        }
      })()
      let carBytes = 0
      for await (const chunk of out) carBytes += chunk.byteLength
      await feeding
      const walkCarMs = now() - t0
      return { blocks, blockBytes, carBytes, walkMs: round(walkMs), walkCarMs: round(walkCarMs), reads }
    },

    'index-catch-up': async (cmd) => {
      const t0 = now()
      const update = await node.index.catchUp(String(cmd.branch))
      return { mode: update.mode, frames: update.frames, keys: update.keys, ms: round(now() - t0) }
    },

    'profile-start': async (cmd) => {
      session = new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: Number(cmd.intervalUs ?? 500) })
      await session.post('Profiler.start')
      return {}
    },

    'profile-stop': async (cmd) => {
      if (session == null) throw new Error('no profile running')
      const { profile } = await session.post('Profiler.stop')
      session.disconnect()
      session = undefined
      await writeFile(String(cmd.path), JSON.stringify(profile))
      return { path: cmd.path }
    },

    close: async () => {
      closing = true
      return {}
    }
  }

  process.stdout.write(JSON.stringify({ ready: true, peerId: node.peerId, addrs: network.addresses() }) + '\n')

  const lines = createInterface({ input: process.stdin })
  // One command at a time, in order.
  for await (const line of lines) {
    if (line.trim() === '') continue
    const cmd = JSON.parse(line) as PeerCommand
    let answer: Record<string, unknown>
    try {
      const handler = handlers[cmd.op]
      if (handler == null) throw new Error(`unknown op ${String(cmd.op)}`)
      answer = { id: cmd.id, ok: true, ...await handler(cmd) }
    } catch (err) {
      answer = { id: cmd.id, ok: false, error: (err as Error).stack ?? String(err) }
    }
    process.stdout.write(JSON.stringify(answer) + '\n')
    if (closing) break
  }
  lines.close()
  await node.close()
}

const watchdog = setTimeout(() => {
  log('sync peer A: timed out, giving up')
  process.exit(2)
}, Number(process.env.BENCH_SYNC_PEER_MAX_MIN ?? 60) * 60_000)
watchdog.unref()

const repoArg = process.argv[2]
let code = 0
try {
  if (repoArg == null) throw new Error('usage: sync-peer.ts REPO_DIR')
  await main(repoArg)
} catch (err) {
  log(`sync peer A failed: ${(err as Error).stack ?? String(err)}`)
  code = 1
}
// libp2p and OrbitDB timers must not keep the process alive.
process.exit(code)
