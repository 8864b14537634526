import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { decodeFrame } from '../../src/core/frame.ts'
import { entries } from '../../src/core/tree/index.ts'
import type { FramehubNode } from '../../src/node.ts'
import type { ListFramesOptions } from '../../src/services/frames.ts'
import { filterOf, frameTerms, queryWords } from '../../src/core/frame-terms.ts'
import { indexKeys, indexLimits } from '../../src/storage/frame-index/layout.ts'
import { indexCandidates } from '../../src/storage/frame-index/join.ts'
import { tempNode } from '../helpers/repo.ts'

// ---------------------------------------------------------------------------------------------
// Generators

const VOCAB = ['alpha', 'Beta', 'GAMMA', 'delta', 'Äpfel', 'été', 'x1', 'über', '数据', 'alpha-beta', 'café']
// Ids mix a shared prefix, deeper paths, BMP characters above the surrogates and astral ones, so
// that the index's byte order and the tree's key order are both exercised.
const IDS = ['a', 'a/1', 'a/2', 'a/b/3', 'a/b/4', 'b/1', 'b/2', 'c', '\uE000/x', '\u{1F600}/y', 'ü/1', 'z/9']
const KINDS = ['fact', 'note', 'plan']
const TAGS = ['red', 'blue', 'x\u0000y', 'w\u0001', 'green']

const text = fc.array(fc.constantFrom(...VOCAB, '!', ', ', '  ', '42'), { maxLength: 6 }).map(w => w.join(' '))
const body = fc.oneof(
  text,
  fc.record({ text, more: fc.array(text, { maxLength: 2 }) }),
  fc.constant(null),
  fc.integer()
)
const frameArb = fc.record({
  id: fc.constantFrom(...IDS),
  kind: fc.constantFrom(...KINDS),
  title: fc.option(text, { nil: undefined }),
  body: fc.option(body, { nil: undefined }),
  tags: fc.option(fc.subarray(TAGS), { nil: undefined })
}).map(f => {
  const out: Record<string, unknown> = { id: f.id, kind: f.kind }
  if (f.title !== undefined) out.title = f.title
  if (f.body !== undefined) out.body = f.body
  if (f.tags !== undefined) out.tags = f.tags
  return out
})

const BRANCHES = ['main', 'side', 'x/y']
type Op =
  | { op: 'put', frame: Record<string, unknown> }
  | { op: 'remove', id: string }
  | { op: 'commit' }
  | { op: 'branch', name: string }
  | { op: 'checkout', name: string }
  | { op: 'merge', name: string }
  | { op: 'delete', name: string }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: frameArb.map(frame => ({ op: 'put' as const, frame })) },
  { weight: 2, arbitrary: fc.constantFrom(...IDS).map(id => ({ op: 'remove' as const, id })) },
  { weight: 3, arbitrary: fc.constant({ op: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constantFrom(...BRANCHES).map(name => ({ op: 'branch' as const, name })) },
  { weight: 1, arbitrary: fc.constantFrom(...BRANCHES).map(name => ({ op: 'checkout' as const, name })) },
  { weight: 1, arbitrary: fc.constantFrom(...BRANCHES).map(name => ({ op: 'merge' as const, name })) },
  { weight: 1, arbitrary: fc.constantFrom(...BRANCHES).map(name => ({ op: 'delete' as const, name })) }
)

interface Query { kind?: string, tag?: string, q?: string, prefix?: string, after?: string, limit?: number }
const queryArb: fc.Arbitrary<Query> = fc.record({
  kind: fc.option(fc.constantFrom(...KINDS, 'nothing'), { nil: undefined }),
  tag: fc.option(fc.constantFrom(...TAGS), { nil: undefined }),
  q: fc.option(fc.oneof(
    fc.subarray(VOCAB, { minLength: 1, maxLength: 2 }).map(w => w.join(' ')),
    fc.constantFrom('ALPHA', 'alpha beta', '!!!', 'ueber', 'über')
  ), { nil: undefined }),
  prefix: fc.option(fc.constantFrom('a', 'a/', 'a/b/', 'b', '\u{1F600}', 'q'), { nil: undefined }),
  after: fc.option(fc.constantFrom(...IDS, 'a/15'), { nil: undefined }),
  limit: fc.option(fc.constantFrom(1, 2, 5), { nil: undefined })
}).filter(q => q.kind != null || q.tag != null || q.q != null)

// ---------------------------------------------------------------------------------------------
// The reference: a full scan of the tree

async function scan (node: FramehubNode, tree: CID, query: Query): Promise<string[]> {
  const filter = filterOf(query)
  const out: string[] = []
  for await (const e of entries(node.repo.blocks, tree, { prefix: query.prefix, gte: query.after != null ? query.after + '\u0000' : undefined })) {
    const frame = decodeFrame(e.value, await node.repo.blocks.get(e.value))
    if (filter.kind != null && frame.kind !== filter.kind) continue
    if (filter.tag != null && !(frame.tags ?? []).includes(filter.tag)) continue
    if (filter.words != null) {
      const words = new Set(frameTerms(frame).words)
      if (filter.words.length === 0 || !filter.words.every(w => words.has(w))) continue
    }
    out.push(`${e.key} ${e.value.toString()}`)
    if (query.limit != null && out.length >= query.limit) break
  }
  return out
}

async function listed (node: FramehubNode, options: ListFramesOptions): Promise<string[]> {
  const out: string[] = []
  for await (const r of node.frames.list(options)) out.push(`${r.id} ${r.cid.toString()}`)
  return out
}

/** Every key and value of a branch's index (meta included). */
async function dump (node: FramehubNode, branch: string): Promise<string[]> {
  const out: string[] = []
  const meta = await node.repo.db.index.get(indexKeys.meta(branch))
  if (meta !== undefined) out.push(`meta ${Buffer.from(meta).toString('hex')}`)
  for await (const [k, v] of node.repo.db.index.iterator({ gte: indexKeys.base(branch), lt: indexKeys.end(branch) })) {
    out.push(`${JSON.stringify(k)} ${Buffer.from(v).toString('hex')}`)
  }
  return out
}

const ignore = (codes: string[]) => (err: unknown): void => {
  if (!codes.includes((err as { code?: string }).code ?? '')) throw err
}

async function apply (node: FramehubNode, op: Op, trees: CID[]): Promise<void> {
  switch (op.op) {
    case 'put':
      await node.frames.put(op.frame)
      trees.push(await node.refs.workingTree())
      return
    case 'remove':
      await node.frames.remove(op.id).catch(ignore(['ERR_FRAME_NOT_FOUND']))
      return
    case 'commit': {
      const r = await node.commits.commit({ message: 'c' }).catch(ignore(['ERR_NOTHING_TO_COMMIT']))
      if (r != null) trees.push(r.tree)
      return
    }
    case 'branch':
      await node.refs.createBranch(op.name).catch(ignore(['ERR_REF_EXISTS', 'ERR_REF_NOT_FOUND']))
      return
    case 'checkout':
      await node.refs.checkout(op.name).catch(ignore(['ERR_REF_NOT_FOUND']))
      return
    case 'merge': {
      // Staged changes are committed first: a merge needs a clean working tree.
      await node.commits.commit({ message: 'before merge' }).catch(ignore(['ERR_NOTHING_TO_COMMIT']))
      await node.commits.merge(op.name).catch(ignore(['ERR_REF_NOT_FOUND']))
      return
    }
    case 'delete':
      await node.refs.deleteBranch(op.name).catch(ignore(['ERR_REF_NOT_FOUND', 'ERR_USAGE']))
  }
}

describe('frame index', () => {
  const saved = { ...indexLimits }
  afterEach(() => { Object.assign(indexLimits, saved) })

  it('tokenizes words: lower case, NFKC, letters and digits; queries the same way', () => {
    assert.deepEqual(queryWords('Alpha-BETA, ｆｕｌｌ width! x1 數據 über'), ['alpha', 'beta', 'full', 'width', 'x1', '數據', 'über'])
    const terms = frameTerms({ id: 'a', kind: 'fact', title: 'The the THE', body: { b: ['one', { c: 'two' }], a: 3 }, tags: ['t'] })
    assert.deepEqual(terms.words, ['the', 'one', 'two'])
    const many = frameTerms({ id: 'a', kind: 'fact', body: Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ') })
    assert.equal(many.words.length, 256, 'a stop limit on words per frame')
    assert.equal(frameTerms({ id: 'a', kind: 'fact', title: 'x'.repeat(100) }).words[0]?.length, 64)
  })

  it('equals a full scan for random frame sets and commit sequences (staged overlays, branches, merges); rebuild equals incremental', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(opArb, { minLength: 5, maxLength: 60, size: 'max' }),
      fc.array(queryArb, { minLength: 3, maxLength: 6 }),
      fc.constantFrom('atomic', 'tiny-batches'),
      async (ops, queries, mode) => {
        // tiny-batches: most ref moves are too big for the batch (the index falls behind and
        // catches up before the next query), and catch-ups write in many chunks.
        if (mode === 'tiny-batches') Object.assign(indexLimits, { maxBatchOps: 12, chunkOps: 5 })
        else Object.assign(indexLimits, saved)
        const { node, cleanup } = await tempNode()
        try {
          const trees: CID[] = []
          for (let i = 0; i < ops.length; i++) {
            await apply(node, ops[i] as Op, trees)
            const query = queries[i % queries.length] as Query
            // The working tree of the current branch: the committed index overlaid with the staged diff.
            assert.deepEqual(await listed(node, query), await scan(node, await node.refs.workingTree(), query), `working tree after op ${i} ${JSON.stringify(ops[i])} ${JSON.stringify(query)}`)
          }
          // Every branch, by name and by commit; and trees seen along the way, by CID.
          for (const b of await node.refs.listBranches()) {
            const tree = (await node.refs.resolveTree(b.name)).tree
            for (const query of queries) {
              assert.deepEqual(await listed(node, { ...query, ref: b.name }), await scan(node, tree, query), `branch ${b.name} ${JSON.stringify(query)}`)
              assert.deepEqual(await listed(node, { ...query, ref: b.commit.toString() }), await scan(node, tree, query))
            }
          }
          for (const tree of trees.slice(-4)) {
            const query = queries[0] as Query
            assert.deepEqual(await listed(node, { ...query, ref: tree.toString() }), await scan(node, tree, query), `tree ${tree}`)
          }
          // After the queries every index is current; a rebuild from the DAG writes the same keys.
          for (const s of await node.index.status()) {
            if (mode === 'atomic' || s.head == null) assert.equal(s.current, true, `${s.branch} index is current`)
            await node.index.catchUp(s.branch)
            // The postings alone (no check of the frames they name) are exact.
            for (const query of s.head != null ? queries : []) {
              const ids = await Array.fromAsync(indexCandidates(node.repo.db, s.branch, filterOf(query), { prefix: query.prefix, start: query.after != null ? query.after + '\u0000' : undefined }))
              const expected = (await scan(node, s.head as CID, { ...query, limit: undefined })).map(line => line.split(' ')[0])
              assert.deepEqual(ids, expected, `postings of ${s.branch} ${JSON.stringify(query)}`)
            }
            const incremental = await dump(node, s.branch)
            await node.index.rebuild(s.branch).catch(ignore(['ERR_REF_NOT_FOUND']))
            assert.deepEqual(await dump(node, s.branch), incremental, `rebuild of ${s.branch}`)
          }
          // Deleted branches leave nothing behind.
          const live = new Set((await node.refs.listBranches()).map(b => b.name))
          for (const name of BRANCHES) if (!live.has(name)) assert.deepEqual(await dump(node, name), [], `index of deleted ${name}`)
        } finally {
          await cleanup()
        }
      }
    ), {
      numRuns: 40,
      examples: [[
        // A branch created at the empty tree, and the same branch rebuilt: one form of the empty index.
        [{ op: 'put', frame: { id: 'ü/1', kind: 'fact' } }, { op: 'merge', name: 'main' }, { op: 'remove', id: 'ü/1' }, { op: 'commit' }, { op: 'branch', name: 'side' },
          { op: 'put', frame: { id: 'a', kind: 'fact' } }, { op: 'remove', id: 'a' }, { op: 'put', frame: { id: 'a', kind: 'fact' } }, { op: 'checkout', name: 'main' }, { op: 'merge', name: 'main' }],
        [{ q: 'ALPHA' }, { q: 'ALPHA' }, { kind: 'fact' }],
        'atomic'
      ]]
    })
  })

  // Each test has a repository of its own, written first by the seeds of what the tests before
  // it leave, so that any one runs alone and in any order.
  describe('in one repository', () => {
    /** n/1 and n/2 (notes) and n/3 (a plan) on main, branch feature merged into it and fast-forwarded to it. */
    const notesSeed = async (node: FramehubNode): Promise<void> => {
      await node.frames.put({ id: 'n/1', kind: 'note', title: 'first note' })
      await node.commits.commit({ message: 'one' })
      await node.refs.createBranch('feature')
      await node.refs.checkout('feature')
      await node.frames.put({ id: 'n/2', kind: 'note', title: 'second note' })
      await node.commits.commit({ message: 'two' })
      await node.refs.checkout('main')
      await node.frames.put({ id: 'n/3', kind: 'plan', title: 'a plan' })
      await node.commits.commit({ message: 'three' })
      await node.commits.merge('feature')
      await node.refs.checkout('feature')
      await node.commits.merge('main')
      await node.refs.checkout('main')
    }
    /** And 30 bulk frames committed on main (facts, tagged even and odd). */
    const bulkSeed = async (node: FramehubNode): Promise<void> => {
      await notesSeed(node)
      await node.frames.import(Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `bulk/${String(i).padStart(2, '0')}`, kind: 'fact', title: `bulk frame ${i}`, tags: [i % 2 === 0 ? 'even' : 'odd'] })))
      await node.commits.commit({ message: 'bulk' })
    }
    /** A node on a repository of the test's own, closed when the test ends. */
    const repository = async (t: TestContext, seed?: (node: FramehubNode) => Promise<void>): Promise<FramehubNode> => {
      const { node, cleanup } = await tempNode()
      t.after(cleanup)
      await seed?.(node)
      return node
    }

    it('is updated in the same write as the commit, merge, fast-forward and branch creation', async (t) => {
      const node = await repository(t)
      await node.frames.put({ id: 'n/1', kind: 'note', title: 'first note' })
      await node.commits.commit({ message: 'one' })
      const current = async (): Promise<boolean[]> => (await node.index.status()).map(s => s.current)
      assert.deepEqual(await current(), [true])
      await node.refs.createBranch('feature')
      assert.deepEqual(await current(), [true, true])
      await node.refs.checkout('feature')
      await node.frames.put({ id: 'n/2', kind: 'note', title: 'second note' })
      await node.commits.commit({ message: 'two' })
      await node.refs.checkout('main')
      await node.frames.put({ id: 'n/3', kind: 'plan', title: 'a plan' })
      await node.commits.commit({ message: 'three' })
      const merged = await node.commits.merge('feature')
      assert.equal(merged.mode, 'merge')
      assert.deepEqual(await current(), [true, true])
      await node.refs.checkout('feature')
      assert.equal((await node.commits.merge('main')).mode, 'fast-forward')
      assert.deepEqual(await current(), [true, true])
      assert.deepEqual((await listed(node, { kind: 'note' })).map(s => s.split(' ')[0]), ['n/1', 'n/2'])
      await node.refs.checkout('main')
    })

    it('a change too big for one batch leaves the index behind; the next query catches it up', async (t) => {
      const node = await repository(t, notesSeed)
      Object.assign(indexLimits, { maxBatchOps: 10, chunkOps: 4 })
      await node.frames.import(Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `bulk/${String(i).padStart(2, '0')}`, kind: 'fact', title: `bulk frame ${i}`, tags: [i % 2 === 0 ? 'even' : 'odd'] })))
      await node.commits.commit({ message: 'bulk' })
      const main = (await node.index.status()).find(s => s.branch === 'main')
      assert.equal(main?.current, false, 'behind after the big commit')
      assert.ok(main?.indexed != null, 'still trusted: it describes an older tree exactly')
      const odd = await listed(node, { tag: 'odd', q: 'BULK frame', prefix: 'bulk/' })
      assert.equal(odd.length, 15)
      assert.equal((await node.index.status()).find(s => s.branch === 'main')?.current, true, 'caught up')
    })

    it('the first commit of a tree far over the batch limit gives the index up from the nodes above the leaves, reading no leaf', async () => {
      const { node: big, cleanup: done } = await tempNode()
      try {
        // 8,000 frames (about 250 leaves); the limit gives up past about 100 leaves (3,200 frames).
        Object.assign(indexLimits, { maxBatchOps: 6400 })
        await big.frames.import(Array.from({ length: 8000 }, (_, i) => JSON.stringify({ id: `f/${String(i).padStart(4, '0')}`, kind: 'fact', title: `frame ${i}` })))
        const blocks = big.repo.db.blocks
        const get = blocks.get.bind(blocks)
        const getSync = blocks.getSync.bind(blocks)
        let reads = 0
        ;(blocks as unknown as { get: typeof get }).get = (async (...args: Parameters<typeof get>) => { reads++; return await get(...args) }) as typeof get
        ;(blocks as unknown as { getSync: typeof getSync }).getSync = ((...args: Parameters<typeof getSync>) => { reads++; return getSync(...args) }) as typeof getSync
        try {
          await big.commits.commit({ message: '8000 frames' })
        } finally {
          (blocks as unknown as { get: typeof get }).get = get
          ;(blocks as unknown as { getSync: typeof getSync }).getSync = getSync
        }
        assert.ok(reads < 25, `${reads} block reads for the commit (a diff to the limit reads about 60)`)
        const main = (await big.index.status()).find(s => s.branch === 'main')
        assert.equal(main?.current, false, 'behind after the big commit')
        assert.equal((await listed(big, { kind: 'fact', prefix: 'f/799' })).length, 10)
        assert.equal((await big.index.status()).find(s => s.branch === 'main')?.current, true, 'caught up by the query')
      } finally {
        await done()
      }
    })

    it('an untrusted index (interrupted rebuild, older version) is rebuilt, never read', async (t) => {
      const node = await repository(t, bulkSeed)
      const before = await listed(node, { kind: 'fact', prefix: 'bulk/' })
      assert.equal(before.length, 30)
      const { index } = node.repo.db
      // An interrupted rebuild: no meta, some keys, one of them wrong.
      await index.del(indexKeys.meta('main'))
      await index.del(indexKeys.posting('main', 'k', 'fact') + 'bulk/03')
      await index.put(indexKeys.posting('main', 'k', 'fact') + 'n/1', new Uint8Array())
      assert.equal((await node.index.status()).find(s => s.branch === 'main')?.indexed, null)
      assert.deepEqual(await listed(node, { kind: 'fact', prefix: 'bulk/' }), before)
      assert.deepEqual(await listed(node, { kind: 'fact', prefix: 'n/' }), [])
      // A meta of another index version.
      await index.put(indexKeys.meta('main'), new Uint8Array([0xa1, 0x61, 0x76, 0x00]))
      await index.del(indexKeys.posting('main', 'k', 'fact') + 'bulk/04')
      assert.deepEqual(await listed(node, { kind: 'fact', prefix: 'bulk/' }), before)
    })

    it('a query on staged changes of a huge branch reads the staged diff, not the tree', async (t) => {
      const node = await repository(t, bulkSeed)
      await node.frames.put({ id: 'bulk/07', kind: 'plan', title: 'changed bulk frame', tags: ['odd'] })
      await node.frames.remove('bulk/09')
      await node.frames.put({ id: 'bulk/99', kind: 'fact', title: 'new bulk frame', tags: ['odd'] })
      const working = await node.refs.workingTree()
      for (const query of [{ tag: 'odd' }, { kind: 'fact', prefix: 'bulk/' }, { q: 'changed' }, { kind: 'plan', tag: 'odd', limit: 1 }, { q: 'bulk', after: 'bulk/07', limit: 3 }]) {
        assert.deepEqual(await listed(node, query), await scan(node, working, query), JSON.stringify(query))
      }
    })

    it('a filtered page reads O(page + staged changes) blocks, never the whole tree', async () => {
      const { node: big, cleanup: done } = await tempNode()
      try {
        await big.frames.import(Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: `f/${String(i).padStart(4, '0')}`, kind: i % 500 === 7 ? 'rare' : 'common', title: i % 1000 === 3 ? 'needle' : `hay ${i}` })))
        await big.commits.commit({ message: '5000 frames' })
        await big.frames.put({ id: 'f/2500', kind: 'rare', title: 'staged needle' })
        await big.frames.remove('f/0007')
        const blocks = big.repo.db.blocks
        const get = blocks.get.bind(blocks)
        const getSync = blocks.getSync.bind(blocks)
        let reads = 0
        ;(blocks as unknown as { get: typeof get }).get = (async (...args: Parameters<typeof get>) => { reads++; return await get(...args) }) as typeof get
        ;(blocks as unknown as { getSync: typeof getSync }).getSync = ((...args: Parameters<typeof getSync>) => { reads++; return getSync(...args) }) as typeof getSync
        try {
          const count = async (options: ListFramesOptions): Promise<[string[], number]> => {
            reads = 0
            const ids = (await Array.fromAsync(big.frames.list(options))).map(r => r.id)
            return [ids, reads]
          }
          const [rare, rareReads] = await count({ kind: 'rare', limit: 3 })
          assert.deepEqual(rare, ['f/0507', 'f/1007', 'f/1507'])
          assert.ok(rareReads < 60, `${rareReads} block reads for a page of 3 (the tree has 5000 frames)`)
          const [needles, needleReads] = await count({ q: 'needle' })
          assert.deepEqual(needles, ['f/0003', 'f/1003', 'f/2003', 'f/2500', 'f/3003', 'f/4003'])
          assert.ok(needleReads < 80, `${needleReads} block reads`)
          const [, scanReads] = await count({ prefix: 'f/' })
          assert.ok(scanReads > 5000, 'an unfiltered list does read every frame')
        } finally {
          (blocks as unknown as { get: typeof get }).get = get
          ;(blocks as unknown as { getSync: typeof getSync }).getSync = getSync
        }
      } finally {
        await done()
      }
    })

    it('queries running while commits and rebuilds rewrite the index answer for their tree (one snapshot each)', async (t) => {
      const node = await repository(t, bulkSeed)
      const checks: Array<Promise<void>> = []
      const writes: Array<Promise<unknown>> = []
      for (let i = 0; i < 60; i++) {
        writes.push(node.frames.put({ id: `c/${i % 7}`, kind: i % 2 === 0 ? 'fact' : 'note', title: `round ${i} concurrent` }).then(async () => await node.commits.commit({ message: `c${i}`, allowEmpty: true })))
        if (i % 16 === 3) writes.push(node.index.rebuild('main'))
        const tree = await node.refs.resolveTree('main')
        const query = { q: 'concurrent', kind: i % 3 === 0 ? 'fact' : undefined, prefix: 'c/' }
        checks.push((async () => {
          assert.deepEqual(await listed(node, { ...query, ref: tree.tree.toString() }), await scan(node, tree.tree, query))
        })())
      }
      await Promise.all([...writes, ...checks])
    })

    it('a query never waits for ever on the write lock: past a short wait it answers without catching up', async (t) => {
      const node = await repository(t, bulkSeed)
      await node.repo.db.index.del(indexKeys.meta('main'))
      const expected = await scan(node, (await node.refs.resolveTree('main')).tree, { kind: 'fact' })
      // A snapshot import whose upload stalls holds the write lock until `release`, which only
      // comes after the query has answered: answering at all is answering while the lock is held.
      const { promise: release, resolve } = Promise.withResolvers<void>()
      const stalled = node.snapshots.importCar((async function * () { await release; yield new Uint8Array([1, 2, 3]) })()).catch(() => {})
      try {
        assert.deepEqual(await listed(node, { kind: 'fact', ref: 'main' }), expected)
      } finally {
        resolve()
        await stalled
      }
      // The queued catch-up ran once the lock was free.
      await node.index.catchUp('main')
      assert.equal((await node.index.status()).find(s => s.branch === 'main')?.current, true)
    })

    it('deleting a branch drops its index', async (t) => {
      const node = await repository(t, bulkSeed)
      await node.commits.commit({ message: 'staged', allowEmpty: true })
      await node.refs.createBranch('gone')
      assert.notDeepEqual(await dump(node, 'gone'), [])
      await node.refs.deleteBranch('gone')
      assert.deepEqual(await dump(node, 'gone'), [])
      assert.equal((await node.index.status()).some(s => s.branch === 'gone'), false)
    })
  })
})
