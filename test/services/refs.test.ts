import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { bases } from 'multiformats/basics'
import type { CID } from 'multiformats/cid'
import { cidOf } from '../../src/core/cid.ts'
import { encodeCid, keys } from '../../src/storage/state.ts'
import { tempNode } from '../helpers/repo.ts'

const code = (c: string) => (err: any): boolean => err?.code === c

describe('refs: branch names and the one REF resolver', () => {
  let t: Awaited<ReturnType<typeof tempNode>>
  let c1: CID
  let c2: CID
  let tree1: CID
  let legacy: string

  before(async () => {
    t = await tempNode()
    const { node } = t
    await node.frames.put({ id: 'r/a', kind: 'fact', body: 'a' })
    c1 = (await node.commits.commit({ message: 'one' })).commit
    tree1 = await node.refs.treeOfCommit(c1)
    await node.frames.put({ id: 'r/b', kind: 'fact', body: 'b' })
    c2 = (await node.commits.commit({ message: 'two' })).commit
    // A branch made before names that read as CIDs were refused: named like c1, pointing at c2.
    legacy = c1.toString()
    await node.repo.batch().putState(keys.ref(legacy), encodeCid(c2)).write()
  })
  after(async () => { await t.cleanup() })

  it('a CID always wins over a branch of the same name: show, log, verify, diff, resolve, snapshot export, frame reads', async () => {
    const { node } = t
    assert.ok((await node.refs.resolveCommit(legacy)).equals(c1))
    assert.ok((await node.refs.resolveCid(legacy)).equals(c1))
    const tree = await node.refs.resolveTree(legacy)
    assert.ok(tree.tree.equals(tree1) && tree.commit?.equals(c1) === true)
    assert.ok((await node.commits.show(legacy)).cid.equals(c1))
    const log = await Array.fromAsync(node.commits.log(legacy))
    assert.deepEqual(log.map(e => e.cid.toString()), [c1.toString()])
    const report = await node.verifier.verify(legacy)
    assert.ok(report.root.equals(c1) && report.ok)
    assert.ok((await node.snapshots.resolveRoot(legacy)).equals(c1))
    assert.deepEqual((await node.commits.diff(legacy, c2.toString())).added.map(c => c.id), ['r/b'])
    await assert.rejects(node.frames.get('r/b', { ref: legacy }), code('ERR_FRAME_NOT_FOUND'))
    assert.deepEqual((await Array.fromAsync(node.frames.list({ ref: legacy }))).map(r => r.id), ['r/a'])
    // Filtered lists go through the frame index, which must answer for c1's tree, not the branch's.
    assert.deepEqual((await Array.fromAsync(node.frames.list({ ref: legacy, kind: 'fact' }))).map(r => r.id), ['r/a'])
    assert.deepEqual((await Array.fromAsync(node.frames.list({ ref: `refs/heads/${legacy}`, kind: 'fact' }))).map(r => r.id), ['r/a', 'r/b'])
    // The same CID in other bases names the same commit.
    for (const text of [c1.toString(bases.base36), c1.toString(bases.base58btc), c1.toString(bases.base32upper), c1.toString(bases.base16)]) {
      assert.ok((await node.refs.resolveCommit(text)).equals(c1), text)
      assert.ok((await node.commits.show(text)).cid.equals(c1), text)
    }
    assert.ok((await node.refs.resolveCommit(`${c2.toString()}~1`)).equals(c1))
  })

  it('refs/heads/NAME names the branch, whatever NAME looks like', async () => {
    const { node } = t
    const explicit = `refs/heads/${legacy}`
    assert.ok((await node.refs.resolveCommit(explicit)).equals(c2))
    assert.ok((await node.refs.resolveCid(explicit)).equals(c2))
    assert.ok((await node.commits.show(explicit)).cid.equals(c2))
    assert.ok((await node.verifier.verify(explicit)).root.equals(c2))
    assert.ok((await node.snapshots.resolveRoot(explicit)).equals(c2))
    assert.ok((await node.refs.resolveCommit(`${explicit}~1`)).equals(c1))
    assert.ok((await node.refs.resolveCommit('refs/heads/main')).equals(c2))
    await assert.rejects(node.refs.resolveCommit('refs/heads/nope'), code('ERR_REF_NOT_FOUND'))
    // A branch literally named refs/heads/… from before refs/ was kept is found when no branch has the short name.
    await node.repo.batch().putState(keys.ref('refs/heads/old'), encodeCid(c1)).write()
    assert.ok((await node.refs.resolveCommit('refs/heads/old')).equals(c1))
    await node.repo.batch().delState(keys.ref('refs/heads/old')).write()
  })

  it('no new branch may be named like a CID (create, checkout -b), nor under refs/', async () => {
    const { node } = t
    for (const name of [c2.toString(), c2.toString(bases.base36), c2.toString(bases.base58btc), 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', 'refs/heads/x']) {
      await assert.rejects(node.refs.createBranch(name), code('ERR_REF_INVALID'), name)
      await assert.rejects(node.refs.checkout(name, { create: true }), code('ERR_REF_INVALID'), name)
    }
    assert.ok(!(await node.refs.listBranches()).some(b => b.name === c2.toString()))
  })

  it('snapshot import --branch goes through the same validator', async () => {
    const { node } = t
    const fresh = await tempNode()
    try {
      const chunks: Uint8Array[] = []
      for await (const c of node.snapshots.exportCar(c1).car) chunks.push(c)
      const car = Buffer.concat(chunks)
      async function * once (): AsyncGenerator<Uint8Array> { yield car }
      for (const name of [c1.toString(), c1.toString(bases.base58btc), 'refs/heads/x']) {
        await assert.rejects(fresh.node.snapshots.importCar(once(), { branch: name }), code('ERR_REF_INVALID'), name)
      }
      assert.deepEqual(await fresh.node.refs.listBranches(), [])
    } finally {
      await fresh.cleanup()
    }
  })

  it('a branch already named like a CID is listed, can be checked out and deleted', async () => {
    const { node } = t
    assert.ok((await node.refs.listBranches()).some(b => b.name === legacy && b.commit.equals(c2)))
    assert.deepEqual(await node.refs.checkout(legacy), { branch: legacy, commit: c2 })
    assert.equal(await node.refs.currentBranch(), legacy)
    assert.ok((await node.refs.resolveCommit('HEAD')).equals(c2))
    await node.refs.checkout('main')
    // Writes and index rebuilds address it too (a lookup, not a new name).
    await node.frames.put({ id: 'r/legacy', kind: 'fact', body: 'staged there' }, { branch: legacy })
    assert.equal((await node.index.rebuild(legacy)).length, 1)
    await node.refs.createBranch('moved', `refs/heads/${legacy}`)
    await node.refs.deleteBranch(legacy)
    assert.ok(!(await node.refs.listBranches()).some(b => b.name === legacy))
    assert.ok((await node.refs.resolveCommit('moved')).equals(c2))
    await node.repo.batch().putState(keys.ref(legacy), encodeCid(c2)).write()
  })

  it('a mistyped CID is ERR_CID_INVALID everywhere a REF is read; an unknown name is ERR_REF_NOT_FOUND', async () => {
    const { node } = t
    const text = c1.toString()
    const malformed = [text.slice(0, -1), text.slice(0, 30) + '1' + text.slice(31), 'bafyinvalid', `${text.slice(0, -1)}~1`]
    const reads: Array<[string, (ref: string) => Promise<unknown>]> = [
      ['resolveCommit', async (r) => await node.refs.resolveCommit(r)],
      ['resolveCid', async (r) => await node.refs.resolveCid(r)],
      ['resolveTree', async (r) => await node.refs.resolveTree(r)],
      ['show', async (r) => await node.commits.show(r)],
      ['log', async (r) => await Array.fromAsync(node.commits.log(r))],
      ['verify', async (r) => await node.verifier.verify(r)],
      ['snapshot export', async (r) => await node.snapshots.resolveRoot(r)],
      ['diff', async (r) => await node.commits.diff(r)],
      ['frame get --ref', async (r) => await node.frames.get('r/a', { ref: r })],
      ['branch --start', async (r) => await node.refs.createBranch('from-bad', r)],
      ['merge', async (r) => await node.commits.merge(r)]
    ]
    for (const [what, read] of reads) {
      for (const ref of malformed) await assert.rejects(read(ref), code('ERR_CID_INVALID'), `${what} ${ref}`)
      for (const ref of ['nope', 'bagel', 'feature/x~2']) await assert.rejects(read(ref), code('ERR_REF_NOT_FOUND'), `${what} ${ref}`)
    }
  })

  it('a CID that is not a commit, where a commit is needed, is ERR_REF_INVALID (also a raw block)', async () => {
    const { node } = t
    const bytes = new TextEncoder().encode('not a commit')
    const raw = cidOf(bytes, 0x55)
    await node.repo.batch().putBlock(raw, bytes).write()
    await assert.rejects(node.refs.resolveCommit(raw.toString()), code('ERR_REF_INVALID'))
    await assert.rejects(node.refs.resolveTree(raw.toString()), code('ERR_REF_INVALID'))
    await assert.rejects(node.refs.resolveCommit(tree1.toString()), code('ERR_REF_INVALID'))
    assert.ok((await node.refs.resolveCid(raw.toString())).equals(raw))
    assert.deepEqual(await node.refs.resolveTree(tree1.toString()), { tree: tree1 })
  })
})
