import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { cidOf, RAW } from '../../src/core/cid.ts'
import { encodeBlock, linksOf } from '../../src/core/block.ts'
import type { Block } from '../../src/core/block.ts'
import { encodeFrame, frameFromJson } from '../../src/core/frame.ts'
import { createNode, initNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { EMPTY_TREE } from '../../src/services/context.ts'
import { createGcService, MarkSet } from '../../src/services/gc.ts'
import type { GcComponents } from '../../src/services/gc.ts'
import { blockKey } from '../../src/storage/level-db.ts'
import { encodeCbor, encodeCid, encodeJson, keys, STATE_KINDS, stateKindOf } from '../../src/storage/state.ts'
import type { StateKinds } from '../../src/storage/state.ts'
import { CLI, runCli, tempDir, tempNode } from '../helpers/repo.ts'

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

async function carOf (root: CID, blocks: Block[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  const parts: Uint8Array[] = []
  const done = (async () => { for await (const c of out) parts.push(c) })()
  for (const b of blocks) await writer.put(b)
  await writer.close()
  await done
  return Buffer.concat(parts)
}

/** A small DAG (root first) that nothing in the repository refers to. */
function dag (salt: string): Block[] {
  const leaf = { cid: cidOf(new TextEncoder().encode(`leaf ${salt}`), RAW), bytes: new TextEncoder().encode(`leaf ${salt}`) }
  const mid = encodeBlock({ salt, leaf: leaf.cid })
  const root = encodeBlock({ salt, mid: mid.cid, leaf: leaf.cid })
  return [root, mid, leaf]
}

async function blockCount (node: FramehubNode): Promise<number> {
  return (await node.repo.db.blocks.keys().all()).length
}

/** Every CID reachable from `root` (all present). */
async function closure (node: FramehubNode, root: CID): Promise<CID[]> {
  const out: CID[] = []
  const seen = new Set<string>()
  const stack = [root]
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    if (seen.has(cid.toString())) continue
    seen.add(cid.toString())
    out.push(cid)
    stack.push(...linksOf(cid, await node.repo.blocks.get(cid)))
  }
  return out
}

describe('garbage collection', () => {
  it('the mark set holds raw multihash keys exactly, across growth', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 3000, size: 'max', selector: b => Buffer.from(b).toString('hex') }), (inputs) => {
      const marks = new MarkSet(16)
      const cids = inputs.map((b, i) => cidOf(b, i % 3 === 0 ? RAW : 0x71))
      const half = cids.slice(0, Math.ceil(cids.length / 2))
      for (const c of half) assert.equal(marks.mark(c), true)
      for (const c of half) assert.equal(marks.mark(c), false, 'marked once per codec')
      for (const c of cids) assert.equal(marks.has(c.multihash.bytes), half.includes(c))
      // The same multihash walked as another codec is walked again (its links may differ).
      const first = half[0] as CID
      assert.equal(marks.mark(CID.createV1(first.code === RAW ? 0x71 : RAW, first.multihash)), true)
      assert.equal(marks.size, half.length)
    }), { numRuns: 10 })
  })

  describe('every kind of root keeps exactly its closure (random DAGs)', () => {
    let node: FramehubNode
    let cleanup: () => Promise<void>
    before(async () => { ({ node, cleanup } = await tempNode()) })
    after(async () => { await cleanup() })

    const KINDS = ['ref', 'work', 'session-heads', 'session-head', 'fork', 'pin-record', 'helia-pin', 'none'] as const
    type Kind = typeof KINDS[number]

    it('keeps what a root reaches, removes the rest; a dry run counts the same and removes nothing', async () => {
      const helia = await node.repo.helia()
      let run = 0
      await fc.assert(fc.asyncProperty(
        fc.array(fc.record({ raw: fc.boolean(), links: fc.array(fc.nat(), { maxLength: 3 }), root: fc.constantFrom(...KINDS) }), { minLength: 1, maxLength: 25, size: 'max' }),
        async (spec) => {
          const salt = `run ${run++}`
          const blocks: Block[] = []
          for (let i = 0; i < spec.length; i++) {
            const s = spec[i] as typeof spec[number]
            if (s.raw || i === 0) {
              const bytes = new TextEncoder().encode(`${salt} ${i}`)
              blocks.push({ cid: cidOf(bytes, RAW), bytes })
            } else {
              blocks.push(encodeBlock({ salt, i, links: [...new Set(s.links.map(l => l % i))].map(j => (blocks[j] as Block).cid) }))
            }
          }
          await node.repo.blocks.putMany(blocks)
          const rootKeys: string[] = []
          const heliaPins: CID[] = []
          const roots: CID[] = []
          for (let i = 0; i < spec.length; i++) {
            const kind = (spec[i] as typeof spec[number]).root as Kind
            const cid = (blocks[i] as Block).cid
            if (kind === 'none') continue
            roots.push(cid)
            const put = async (key: string, value: Uint8Array): Promise<void> => { rootKeys.push(key); await node.repo.db.state.put(key, value) }
            if (kind === 'ref') await put(`ref gc-${i}`, encodeCid(cid))
            else if (kind === 'work') await put(`work gc-${i}`, encodeCid(cid))
            else if (kind === 'session-heads') await put(`session-heads gc-${i}`, encodeCbor([cid]))
            else if (kind === 'session-head') await put(`session-head gc-${i}`, encodeCid(cid))
            else if (kind === 'fork') await put(`fork gc id-${i} m`, encodeCbor({ id: `id-${i}`, ours: null, theirs: cid, branch: 'gc' }))
            else if (kind === 'pin-record') await put(`pin gc-${i}`, encodeJson({ requestid: `gc-${i}`, status: 'pinned', created: new Date().toISOString(), pin: { cid: cid.toString() } }))
            else if (kind === 'helia-pin' && !heliaPins.some(p => p.equals(cid))) {
              for await (const _ of helia.pins.add(cid)) { /* drain */ }
              heliaPins.push(cid)
            }
          }
          const reachable = new Set<string>([EMPTY_TREE.toString()])
          for (const r of roots) for (const c of await closure(node, r)) reachable.add(c.toString())
          const unreachable = blocks.filter(b => !reachable.has(b.cid.toString()))
          const distinct = new Set(unreachable.map(b => b.cid.toString())).size

          const dry = await node.gc.gc({ dryRun: true })
          assert.equal(dry.removed, distinct)
          assert.equal(await blockCount(node), reachable.size + distinct, 'a dry run removes nothing')
          const real = await node.gc.gc()
          assert.deepEqual({ ...real, dryRun: true }, dry)
          assert.equal(real.kept, reachable.size)
          assert.equal(real.missing, 0)
          for (const b of blocks) assert.equal(await node.repo.blocks.has(b.cid), reachable.has(b.cid.toString()), `block ${blocks.indexOf(b)}`)
          assert.equal(await blockCount(node), reachable.size)

          // Without its roots, everything goes.
          for (const key of rootKeys) await node.repo.db.state.del(key)
          for (const p of heliaPins) for await (const _ of helia.pins.rm(p)) { /* drain */ }
          await node.gc.gc()
          assert.equal(await blockCount(node), 1, 'only the empty tree is left')
        }
      ), { numRuns: 30 })
    })
  })

  describe('on a real repository', () => {
    let node: FramehubNode
    let cleanup: () => Promise<void>
    before(async () => { ({ node, cleanup } = await tempNode()) })
    after(async () => { await cleanup() })

    it('keeps branches, history, working trees, forks of deleted branches, sessions, attachments and pins; removes the rest', async () => {
      const att = await node.frames.attach({ name: 'notes.txt', bytes: new TextEncoder().encode('attached '.repeat(50_000)) })
      await node.frames.put({ id: 'doc', kind: 'fact', title: 'with attachment', attachments: [{ ...att, cid: { '/': att.cid.toString() } }] })
      await node.frames.put({ id: 'x', kind: 'fact', body: 'v1' })
      const first = await node.commits.commit({ message: 'one' })
      await node.frames.put({ id: 'x', kind: 'fact', body: 'v2' })
      await node.commits.commit({ message: 'two' })
      // A branch with a conflicting change, merged into a branch that is then deleted: its fork record stays.
      await node.refs.createBranch('theirs', first.commit.toString())
      await node.refs.checkout('theirs')
      await node.frames.put({ id: 'x', kind: 'fact', body: 'theirs' })
      const theirs = await node.commits.commit({ message: 'theirs' })
      await node.refs.checkout('main')
      await node.refs.checkout('tmp', { create: true })
      const merged = await node.commits.merge('theirs')
      assert.equal(merged.forks.length, 1)
      await node.refs.checkout('main')
      await node.refs.deleteBranch('tmp')
      await node.refs.deleteBranch('theirs')
      // A session nobody committed, staged frames, a pinned DAG and an orphaned one.
      const step = await node.traces.append('goal', { op: 'thought', content: 'thinking' })
      await node.frames.put({ id: 'staged', kind: 'note', body: 'not committed' })
      const pinned = dag('pinned')
      const orphan = dag('orphan')
      for (const d of [pinned, orphan]) await node.snapshots.importCar(once(await carOf((d[0] as Block).cid, d)))
      await node.repo.db.state.put('pin 0000000001-test', encodeJson({ requestid: '0000000001-test', status: 'pinned', created: new Date().toISOString(), pin: { cid: (pinned[0] as Block).cid.toString() } }))
      const heliaPinned = dag('helia')
      await node.snapshots.importCar(once(await carOf((heliaPinned[0] as Block).cid, heliaPinned)))
      const helia = await node.repo.helia()
      for await (const _ of helia.pins.add((heliaPinned[0] as Block).cid)) { /* drain */ }

      const before = await blockCount(node)
      const r = await node.gc.gc()
      assert.ok(r.removed >= 3, `removed ${r.removed}`)
      assert.equal(r.kept + r.removed, before)
      assert.equal(await blockCount(node), r.kept)
      for (const b of orphan) assert.equal(await node.repo.blocks.has(b.cid), false, 'the orphaned DAG is gone')
      for (const b of [...pinned, ...heliaPinned]) assert.equal(await node.repo.blocks.has(b.cid), true, 'pinned DAGs stay')

      assert.deepEqual((await node.verifier.verify('main')).problems, [])
      assert.deepEqual((await node.verifier.verify(theirs.commit.toString())).problems, [], 'history reachable from the fork record')
      const [fork] = await Array.fromAsync(node.commits.forks())
      assert.ok(fork != null)
      assert.equal((await node.commits.show(fork.merge.toString())).type, 'commit')
      assert.equal((await node.frames.get(String(fork.theirs))).frame.body, 'theirs')
      assert.equal((await Array.fromAsync(node.traces.show('goal')))[0]?.cid.toString(), step.cid.toString())
      assert.equal((await node.frames.get('staged')).frame.body, 'not committed')
      const { unixfs } = await import('@helia/unixfs')
      let size = 0
      for await (const chunk of unixfs(helia).cat(att.cid)) size += chunk.byteLength
      assert.equal(size, att.size, 'the attachment (several UnixFS blocks) is whole')
      for (const c of await closure(node, await node.refs.workingTree())) assert.ok(await node.repo.blocks.has(c))

      const again = await node.gc.gc()
      assert.equal(again.removed, 0, 'nothing left to remove')
      assert.equal(again.kept, r.kept)
    })
  })

  it('removes the frame blocks of an import that was killed half-way, and nothing else', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const path = join(dir, 'repo')
      let node = await initNode({ repo: path })
      await node.frames.put({ id: 'keep/me', kind: 'fact', body: 1 })
      const kept = await node.commits.commit({ message: 'before' })
      await node.close()

      const file = join(dir, 'big.ndjson')
      const line = (i: number): string => JSON.stringify({ id: `bulk/${i}`, kind: 'fact', body: `frame number ${i} `.repeat(8) })
      const out = createWriteStream(file)
      for (let i = 0; i < 200_000; i++) out.write(line(i) + '\n')
      await new Promise(resolve => out.end(resolve))
      const child = spawn(process.execPath, [CLI, '--repo', path, 'frame', 'import', file, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
      const exited = new Promise<number | null>(resolve => child.on('close', resolve))
      let finished = false
      void exited.then(() => { finished = true })
      const storeSize = async (): Promise<number> => {
        let size = 0
        for (const f of await readdir(join(path, 'store'))) size += await stat(join(path, 'store', f)).then(s => s.size, () => 0)
        return size
      }
      const start = await storeSize()
      const deadline = Date.now() + 120_000
      while (!finished && Date.now() < deadline && await storeSize() < start + 4_000_000) await sleep(20)
      assert.equal(finished, false, 'the import was still running when it was killed')
      child.kill('SIGKILL')
      await exited

      node = await createNode({ repo: path })
      try {
        const orphan = encodeFrame(frameFromJson(JSON.parse(line(0)))).cid
        assert.equal(await node.repo.blocks.has(orphan), true, 'the killed import left frame blocks behind')
        const r = await node.gc.gc()
        assert.ok(r.removed >= 8192, `removed ${r.removed}`)
        assert.equal(await node.repo.blocks.has(orphan), false)
        assert.equal(await node.repo.db.blocks.get(blockKey(orphan)), undefined)
        assert.ok((await node.refs.branchHead('main'))?.equals(kept.commit))
        assert.deepEqual((await Array.fromAsync(node.frames.list())).map(f => f.id), ['keep/me'])
        assert.deepEqual((await node.verifier.verify()).problems, [])
      } finally {
        await node.close()
      }

      // The CLI: --dry-run and --json.
      const dry = await runCli(['--repo', path, 'gc', '--dry-run', '--json'])
      assert.equal(dry.code, 0, dry.stderr)
      assert.deepEqual(dry.json, { removed: 0, kept: dry.json.kept, bytesFreed: 0, dryRun: true })
      node = await createNode({ repo: path })
      await node.frames.put({ id: 'tmp', kind: 'fact', body: 'x' })
      await node.frames.remove('tmp')
      await node.close()
      const human = await runCli(['--repo', path, 'gc'])
      assert.equal(human.code, 0, human.stderr)
      assert.match(human.stdout, /^removed [1-9]\d* blocks \(\d+ bytes\), kept \d+\n$/)
      const json = await runCli(['--repo', path, 'gc', '--json'])
      assert.deepEqual(Object.keys(json.json), ['removed', 'kept', 'bytesFreed', 'dryRun'])
      assert.equal(json.json.removed, 0)
    } finally {
      await cleanup()
    }
  })

  describe('roots come from the declared kinds of state keys', () => {
    let node: FramehubNode
    let cleanup: () => Promise<void>
    before(async () => { ({ node, cleanup } = await tempNode()) })
    after(async () => { await cleanup() })

    /** A garbage collector over `node`'s repository that knows `kinds`. */
    const gcWith = (kinds: StateKinds): ReturnType<typeof createGcService> => {
      const components: GcComponents = {
        db: node.repo.db,
        state: node.repo.state,
        helia: async () => await node.repo.helia(),
        exclusive: async (fn) => await fn()
      }
      return createGcService(components, { stateKinds: kinds })
    }

    it('every key the state builders make is of a declared kind', () => {
      for (const [name, key] of Object.entries(keys)) {
        const built = typeof key === 'string' ? (key.endsWith(' ') ? key + 'name' : key) : (key as (...a: string[]) => string)('a', 'b', 'c')
        assert.ok(stateKindOf(built) != null, `keys.${name} builds "${built}", of no declared kind`)
      }
      assert.equal(stateKindOf('ref'), undefined, 'a named kind without a name')
      assert.equal(stateKindOf('config x'), undefined, 'a single key with a name')
      assert.equal(stateKindOf('toString x'), undefined, 'not a kind: a property every object has')
    })

    it('a state key of an undeclared kind stops the collection before anything is removed', async () => {
      const orphan = dag('unknown-kind')
      await node.repo.blocks.putMany(orphan)
      const held = dag('held-by-unknown-kind')
      await node.repo.blocks.putMany(held)
      await node.repo.db.state.put('future-kind x', encodeCid((held[0] as Block).cid))
      try {
        const before = await blockCount(node)
        for (const options of [{ dryRun: true }, {}]) {
          await assert.rejects(node.gc.gc(options), (err: { code?: string, message?: string }) => {
            assert.equal(err.code, 'ERR_REPO_CORRUPT')
            assert.match(err.message ?? '', /future-kind x/)
            return true
          })
        }
        assert.equal(await blockCount(node), before, 'nothing was removed')
        for (const b of [...orphan, ...held]) assert.equal(await node.repo.blocks.has(b.cid), true)
      } finally {
        await node.repo.db.state.del('future-kind x')
      }
    })

    it('a new kind declared as holding CIDs keeps what it holds; declared as holding none, it keeps nothing', async () => {
      for (const [roots, kept] of [['cid', true], ['cids', true], ['json-cids', true], [false, false]] as const) {
        const held = dag(`new-kind-${String(roots)}`)
        const orphan = dag(`orphan-${String(roots)}`)
        await node.repo.blocks.putMany([...held, ...orphan])
        const root = (held[0] as Block).cid
        const value = roots === 'cids' ? encodeCbor({ at: [root] }) : roots === 'json-cids' ? encodeJson({ record: { cid: root.toString() } }) : encodeCid(root)
        await node.repo.db.state.put('new-kind x', value)
        const r = await gcWith({ ...STATE_KINDS, 'new-kind': { named: true, roots } }).gc()
        assert.equal(r.missing, 0)
        for (const b of held) assert.equal(await node.repo.blocks.has(b.cid), kept, `roots ${String(roots)}: ${b.cid}`)
        for (const b of orphan) assert.equal(await node.repo.blocks.has(b.cid), false, 'what nothing holds goes')
        await node.repo.db.state.del('new-kind x')
      }
      // A single key (no name) of a new kind too.
      const held = dag('single-kind')
      await node.repo.blocks.putMany(held)
      await node.repo.db.state.put('single-kind', encodeCid((held[0] as Block).cid))
      await gcWith({ ...STATE_KINDS, 'single-kind': { named: false, roots: 'cid' } }).gc()
      for (const b of held) assert.equal(await node.repo.blocks.has(b.cid), true)
      await node.repo.db.state.del('single-kind')
    })
  })
})
