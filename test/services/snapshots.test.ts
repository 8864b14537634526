import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { encodeBlock } from '../../src/core/block.ts'
import type { Block } from '../../src/core/block.ts'
import { tempNode } from '../helpers/repo.ts'

async function collect (car: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of car) parts.push(c)
  return Buffer.concat(parts)
}

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

async function carOf (roots: CID[], blocks: Block[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const done = collect(out)
  for (const b of blocks) await writer.put(b)
  await writer.close()
  return await done
}

describe('snapshots (CAR v1)', () => {
  let a: Awaited<ReturnType<typeof tempNode>>
  let b: Awaited<ReturnType<typeof tempNode>>
  before(async () => { a = await tempNode(); b = await tempNode() })
  after(async () => { await a.cleanup(); await b.cleanup() })

  const frames = fc.uniqueArray(fc.record({
    id: fc.stringMatching(/^[a-z]{1,3}(\/[a-z0-9]{1,4}){0,2}$/),
    kind: fc.constantFrom('fact', 'note', 'plan'),
    body: fc.string({ maxLength: 30 })
  }), { selector: f => f.id, minLength: 1, maxLength: 60 })

  it('export is deterministic and import on a fresh node restores the same root and bytes', async () => {
    await fc.assert(fc.asyncProperty(frames, fc.integer({ min: 0, max: 1000 }), async (list, seed) => {
      // Two different insertion orders, one per node: the tree (and its snapshot) must not care.
      const shuffled = [...list].sort((x, y) => ((x.id.length * 31 + seed) % 7) - ((y.id.length * 31 + seed) % 7))
      const branch = `p${seed}-${list.length}`
      await a.node.refs.checkout(branch, { create: true })
      await b.node.refs.checkout(branch, { create: true })
      const ra = await a.node.frames.import(list.map(f => JSON.stringify(f)))
      const rb = await b.node.frames.import(shuffled.map(f => JSON.stringify(f)))
      assert.ok(ra.tree.equals(rb.tree), 'same frame set, same tree CID')
      const carA = await collect(a.node.snapshots.exportCar(ra.tree).car)
      const carB = await collect(b.node.snapshots.exportCar(rb.tree).car)
      assert.deepEqual(carA, carB, 'byte-identical snapshots')
      const fresh = await tempNode()
      try {
        const imported = await fresh.node.snapshots.importCar(once(carA))
        assert.ok(imported.root.equals(ra.tree))
        assert.deepEqual(await collect(fresh.node.snapshots.exportCar(imported.root).car), carA)
        assert.equal((await fresh.node.verifier.verify(imported.root.toString())).ok, true)
      } finally {
        await fresh.cleanup()
      }
    }), { numRuns: 8 })
  })

  it('a commit snapshot carries its history, frames and the sessions it names', async () => {
    const node = a.node
    await node.refs.checkout('snap', { create: true })
    const s1 = await node.traces.append('goal', { op: 'thought', content: 'why' })
    await node.frames.put({ id: 'x', kind: 'fact', body: 1 })
    await node.commits.commit({ message: 'one' })
    await node.traces.append('goal', { op: 'conclusion', content: 'because' })
    await node.frames.put({ id: 'y', kind: 'fact', body: 2 })
    const c2 = await node.commits.commit({ message: 'two' })
    const car = await collect(node.snapshots.exportCar(c2.commit).car)
    const fresh = await tempNode()
    try {
      const r = await fresh.node.snapshots.importCar(once(car))
      assert.ok(r.root.equals(c2.commit))
      const report = await fresh.node.verifier.verify(c2.commit.toString())
      assert.deepEqual(report.problems, [])
      const log = await Array.fromAsync(fresh.node.commits.log(c2.commit.toString()))
      assert.deepEqual(log.map(e => e.commit.message), ['two', 'one'])
      assert.ok(await fresh.node.repo.blocks.has(s1.cid), 'the first step travels with the history')
    } finally {
      await fresh.cleanup()
    }
  })

  describe('malformed CARs are refused and leave nothing visible', () => {
    const good = encodeBlock({ hello: 'world' })
    const child = encodeBlock({ leaf: true })
    const parent = encodeBlock({ child: child.cid })

    it('junk', async () => {
      await assert.rejects(b.node.snapshots.importCar(once(new TextEncoder().encode('not a car at all'))), { code: 'ERR_CAR_INVALID' })
    })
    it('a block whose bytes do not match its CID', async () => {
      const car = await carOf([good.cid], [{ cid: good.cid, bytes: encodeBlock({ hello: 'w0rld' }).bytes }])
      await assert.rejects(b.node.snapshots.importCar(once(car)), { code: 'ERR_BLOCK_CORRUPT' })
      assert.equal(await b.node.repo.blocks.has(good.cid), false)
    })
    it('a client\'s block that does not match its CID is the client\'s fault (ERR_CAR_INVALID naming it); a corrupt block of this repository stays ERR_BLOCK_CORRUPT', async () => {
      const forged = await carOf([good.cid], [{ cid: good.cid, bytes: encodeBlock({ hello: 'w0rld' }).bytes }])
      await assert.rejects(b.node.snapshots.importCar(once(forged), { clientInput: true }), (err: { code?: string, details?: { cid?: string } }) => {
        assert.equal(err.code, 'ERR_CAR_INVALID')
        assert.equal(err.details?.cid, good.cid.toString())
        return true
      })
      assert.equal(await b.node.repo.blocks.has(good.cid), false)
      // The CAR is sound, but a block it links to is stored here, corrupt: this repository's fault.
      const stored = encodeBlock({ stored: 'here' })
      const above = encodeBlock({ below: stored.cid })
      await b.node.repo.batch().putBlock(stored.cid, new TextEncoder().encode('rotten')).write()
      await assert.rejects(b.node.snapshots.importCar(once(await carOf([above.cid], [above])), { clientInput: true }), { code: 'ERR_BLOCK_CORRUPT' })
      assert.equal(await b.node.repo.blocks.has(above.cid), false)
    })
    it('a missing block', async () => {
      const car = await carOf([parent.cid], [parent])
      await assert.rejects(b.node.snapshots.importCar(once(car)), { code: 'ERR_DAG_INCOMPLETE' })
      assert.equal(await b.node.repo.blocks.has(parent.cid), false, 'the parent was not made visible')
    })
    it('two roots, or none', async () => {
      await assert.rejects(b.node.snapshots.importCar(once(await carOf([good.cid, child.cid], [good, child]))), { code: 'ERR_CAR_INVALID' })
      await assert.rejects(b.node.snapshots.importCar(once(await carOf([], [good]))), { code: 'ERR_CAR_INVALID' })
    })
    it('a header root that names its block under another codec (same digest)', async () => {
      for (const code of [0x55, 0x6d]) {
        const other = CID.createV1(code, parent.cid.multihash)
        await assert.rejects(b.node.snapshots.importCar(once(await carOf([other], [parent, child]))), { code: 'ERR_CAR_INVALID' })
        assert.equal(await b.node.repo.blocks.has(parent.cid), false)
      }
    })
    it('truncated in the middle of a block', async () => {
      const car = await carOf([parent.cid], [parent, child])
      await assert.rejects(b.node.snapshots.importCar(once(car.subarray(0, car.length - 5))), { code: 'ERR_CAR_INVALID' })
      assert.equal(await b.node.repo.blocks.has(parent.cid), false)
    })
    it('every random corruption of a valid CAR is refused or imports exactly the original', async () => {
      const car = await carOf([parent.cid], [parent, child])
      await fc.assert(fc.asyncProperty(fc.nat(car.length - 1), fc.integer({ min: 1, max: 255 }), async (i, delta) => {
        const bad = car.slice()
        bad[i] = ((bad[i] as number) + delta) & 0xff
        try {
          const r = await b.node.snapshots.importCar(once(bad))
          assert.ok(r.root.equals(parent.cid))
        } catch (err) {
          assert.match((err as { code?: string }).code ?? String(err), /^ERR_(CAR_INVALID|BLOCK_CORRUPT|BLOCK_INVALID|DAG_INCOMPLETE|CID_INVALID)$/)
        }
      }), { numRuns: 200, ...(process.env.CAR_SEED != null ? { seed: Number(process.env.CAR_SEED) } : {}) })
    })
  })

  it('an import can create a branch at its root: a new name, and only on a commit', async () => {
    const { node } = a
    await node.refs.checkout('for-branch', { create: true })
    await node.frames.put({ id: 'branch/one', kind: 'fact', body: 1 })
    const commit = await node.commits.commit({ message: 'to branch' })
    const car = await collect(node.snapshots.exportCar(commit.commit).car)
    const treeCar = await collect(node.snapshots.exportCar(commit.tree).car)
    const fresh = await tempNode()
    try {
      const heads = async (): Promise<string[]> => (await fresh.node.refs.listBranches()).map(x => x.name)
      const r = await fresh.node.snapshots.importCar(once(car), { branch: 'restored' })
      assert.equal(r.branch, 'restored')
      assert.ok((await fresh.node.refs.branchHead('restored'))?.equals(commit.commit))
      assert.deepEqual((await fresh.node.frames.get('branch/one', { ref: 'restored' })).frame.body, 1)
      // Like `branch NAME`: an existing branch is refused before anything is read.
      await assert.rejects(fresh.node.snapshots.importCar(once(car), { branch: 'restored' }), { code: 'ERR_REF_EXISTS' })
      await assert.rejects(fresh.node.snapshots.importCar(once(car), { branch: 'bad..name' }), { code: 'ERR_REF_INVALID' })
      // A tree is not a commit: refused, and nothing of it becomes visible.
      await assert.rejects(fresh.node.snapshots.importCar(once(treeCar), { branch: 'tree' }), { code: 'ERR_USAGE' })
      assert.equal(await fresh.node.repo.blocks.has(commit.tree), true, 'the tree came with the commit')
      const other = await tempNode()
      try {
        await assert.rejects(other.node.snapshots.importCar(once(treeCar), { branch: 'tree' }), { code: 'ERR_USAGE' })
        assert.equal(await other.node.repo.blocks.has(commit.tree), false, 'a refused import leaves nothing visible')
      } finally {
        await other.cleanup()
      }
      assert.deepEqual((await heads()).sort(), ['restored'])
    } finally {
      await fresh.cleanup()
    }
  })

  it('an import larger than the memory for staging goes through LevelDB and ends the same', async () => {
    const { tree } = await a.node.frames.import(Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: `spill/${i}`, kind: 'fact', body: 'x'.repeat(200) })))
    const car = await collect(a.node.snapshots.exportCar(tree).car)
    const junk = encodeBlock({ not: 'in the DAG' })
    const withJunk = Buffer.concat([car, (await carOf([tree], [junk])).subarray((await carOf([tree], [])).length)])
    const fresh = await tempNode()
    try {
      const r = await fresh.node.snapshots.importCar(once(withJunk), { stagingMemoryBytes: 4096 })
      assert.ok(r.root.equals(tree))
      assert.equal((await fresh.node.verifier.verify(tree.toString())).ok, true)
      assert.equal(await fresh.node.repo.blocks.has(junk.cid), false, 'a block outside the DAG is not kept')
      assert.equal((await fresh.node.repo.db.pending.keys().all()).length, 0, 'nothing left staged')
    } finally {
      await fresh.cleanup()
    }
  })

  it('a copy into the blockstore killed half-way is finished when the repository opens; an unchecked one is dropped', async () => {
    const { promotePending, recoverPending } = await import('../../src/storage/pending.ts')
    const { blockKey } = await import('../../src/storage/level-db.ts')
    const { keys } = await import('../../src/storage/state.ts')
    const fresh = await tempNode()
    try {
      const db = fresh.node.repo.db
      const blocks = Array.from({ length: 10 }, (_, i) => encodeBlock({ promoted: i }))
      // As a killed promotion leaves it: the marker, some blocks copied, all still pending.
      await db.pending.batch(blocks.map(b => ({ type: 'put' as const, key: blockKey(b.cid), value: b.bytes })))
      await db.blocks.put(blockKey(blocks[0]?.cid as CID), blocks[0]?.bytes as Uint8Array)
      await db.state.put(keys.importPromoting, new Uint8Array([1]))
      assert.equal(await recoverPending(db), 'promoted')
      for (const b of blocks) assert.equal(await fresh.node.repo.blocks.has(b.cid), true)
      assert.equal(db.state.getSync(keys.importPromoting), undefined)
      // Without the marker, pending blocks were never checked: dropped.
      const unchecked = encodeBlock({ unchecked: true })
      await db.pending.put(blockKey(unchecked.cid), unchecked.bytes)
      assert.equal(await recoverPending(db), 'dropped')
      assert.equal(await fresh.node.repo.blocks.has(unchecked.cid), false)
      assert.equal(await promotePending(db), 0)
    } finally {
      await fresh.cleanup()
    }
  })

  it('blocks are copied children first, so a copy cut anywhere leaves only complete closures', async () => {
    const { childrenFirst } = await import('../../src/services/snapshots.ts')
    // r → a, b; a → c, s; b → s; c → s (s is shared at several depths); x is stored already.
    const childrenOf = new Map([['r', ['a', 'b', 'x']], ['a', ['c', 's']], ['b', ['s']], ['c', ['s']], ['s', []]])
    const order = childrenFirst('r', childrenOf, new Set(['r', 'a', 'b', 'c', 's']))
    assert.equal(order.length, 5)
    assert.equal(order[order.length - 1], 'r')
    for (const [i, key] of order.entries()) {
      for (const child of childrenOf.get(key) ?? []) if (child !== 'x') assert.ok(order.indexOf(child) < i, `${child} before ${key}`)
    }
    assert.deepEqual(childrenFirst('r', childrenOf, new Set(['a', 'c', 's'])), ['s', 'c', 'a'], 'a root already stored is not copied')
  })
  it('a block over the block limit is refused (ERR_PAYLOAD_TOO_LARGE) and nothing is stored; one at the limit imports', async () => {
    const { CID } = await import('multiformats/cid')
    const raw = await import('multiformats/codecs/raw')
    const { sha256 } = await import('multiformats/hashes/sha2')
    const { MAX_BLOCK_BYTES } = await import('../../src/core/block.ts')
    const rawBlock = async (size: number, fill: number): Promise<Block> => {
      const bytes = new Uint8Array(size).fill(fill)
      return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
    }
    const over = await rawBlock(MAX_BLOCK_BYTES + 1, 7)
    await assert.rejects(b.node.snapshots.importCar(once(await carOf([over.cid], [over]))), (err: { code?: string }) => err.code === 'ERR_PAYLOAD_TOO_LARGE')
    assert.equal(await b.node.repo.blocks.has(over.cid), false)
    const at = await rawBlock(MAX_BLOCK_BYTES, 8)
    const stats = await b.node.snapshots.importCar(once(await carOf([at.cid], [at])))
    assert.ok(stats.root.equals(at.cid))
    assert.equal(await b.node.repo.blocks.has(at.cid), true)
  })
})
