import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import type { CID } from 'multiformats/cid'
import { encodeFrame, frameFromJson } from '../../src/core/frame.ts'
import type { FramehubNode } from '../../src/node.ts'
import { tempNode } from '../helpers/repo.ts'

const note = (id: string, text: string): Record<string, unknown> => ({ id, kind: 'note', body: { text } })
const str = (cid: CID | null | undefined): string | null => cid?.toString() ?? null

/** The versions of frame h/x, its commits and the steps naming them: what every test reads. */
interface History {
  v: Record<string, CID>
  steps: Record<string, CID>
  commits: Record<string, CID>
}

/** Writes the history the tests read into `node`'s repository. */
async function writeHistory (node: FramehubNode): Promise<History> {
  const v: Record<string, CID> = {}
  const steps: Record<string, CID> = {}
  const commits: Record<string, CID> = {}
  v.one = (await node.frames.put(note('h/x', 'one'))).cid
  steps.one = (await node.traces.append('research', { op: 'conclusion', content: 'x is one', outputs: [v.one] })).cid
  commits.one = (await node.commits.commit({ message: 'first x' })).commit
  await node.frames.put(note('h/other', 'unrelated'))
  commits.unrelated = (await node.commits.commit({ message: 'unrelated' })).commit
  v.two = (await node.frames.put(note('h/x', 'two'))).cid
  await node.traces.append('research', { op: 'observation', content: 'measured again', inputs: [v.one] })
  steps.two = (await node.traces.append('research', { op: 'conclusion', content: 'x is two', inputs: [v.one], outputs: [v.two] })).cid
  commits.two = (await node.commits.commit({ message: 'second x' })).commit
  await node.frames.remove('h/x')
  commits.gone = (await node.commits.commit({ message: 'drop x' })).commit
  // The first content again: the same CID, a new version.
  assert.ok((await node.frames.put(note('h/x', 'one'))).cid.equals(v.one))
  commits.back = (await node.commits.commit({ message: 'x back' })).commit
  v.staged = (await node.frames.put(note('h/x', 'three'))).cid
  steps.staged = (await node.traces.append('planning', { op: 'action', content: 'write three', outputs: [v.staged] })).cid
  return { v, steps, commits }
}

/** The history on a repository of one test's own (a test that writes), removed when it ends. */
async function ownHistory (t: TestContext): Promise<History & { node: FramehubNode }> {
  const own = await tempNode()
  t.after(own.cleanup)
  return { node: own.node, ...await writeHistory(own.node) }
}

// The tests that only read share one repository; those that write have their own.
describe('frames.history and frames.revert', () => {
  let t: Awaited<ReturnType<typeof tempNode>>
  const v: Record<string, CID> = {}
  const steps: Record<string, CID> = {}
  const commits: Record<string, CID> = {}

  before(async () => {
    t = await tempNode()
    const written = await writeHistory(t.node)
    Object.assign(v, written.v)
    Object.assign(steps, written.steps)
    Object.assign(commits, written.commits)
  })
  after(async () => { await t.cleanup() })

  it('lists every version newest first with commit, author, time, message, CID (null when removed) and the steps naming it', async () => {
    const { node } = t
    const h = await node.frames.history('h/x')
    assert.equal(h.id, 'h/x')
    assert.equal(h.branch, 'main')
    assert.equal(str(h.head), str(commits.back))
    assert.equal(str(h.staged?.cid), str(v.staged))
    assert.deepEqual(h.staged?.steps.map(s => str(s.cid)), [str(steps.staged)])
    assert.deepEqual(h.versions.map(x => [x.message, str(x.commit), str(x.cid)]), [
      ['x back', str(commits.back), str(v.one)],
      ['drop x', str(commits.gone), null],
      ['second x', str(commits.two), str(v.two)],
      ['first x', str(commits.one), str(v.one)]
    ])
    for (const x of h.versions) {
      assert.equal(x.author, node.peerId)
      assert.ok(Number.isInteger(x.time) && x.time > 0)
    }
    const byMessage = new Map(h.versions.map(x => [x.message, x]))
    assert.deepEqual(byMessage.get('second x')?.steps.map(s => [str(s.cid), s.step.op, s.step.content]), [[str(steps.two), 'conclusion', 'x is two']])
    // Content-addressed: the step that wrote "one" explains both versions holding that CID.
    assert.deepEqual(byMessage.get('first x')?.steps.map(s => str(s.cid)), [str(steps.one)])
    assert.deepEqual(byMessage.get('x back')?.steps.map(s => str(s.cid)), [str(steps.one)])
    assert.deepEqual(byMessage.get('drop x')?.steps, [])
    assert.equal(h.stepsComplete, true)
  })

  it('honours limit and a REF naming a commit (no staged version then)', async () => {
    const { node } = t
    const two = await node.frames.history('h/x', { limit: 2 })
    assert.deepEqual(two.versions.map(x => x.message), ['x back', 'drop x'])
    const older = await node.frames.history('h/x', { ref: 'HEAD~2' })
    assert.equal(older.branch, null)
    assert.equal(older.staged, null)
    assert.equal(str(older.head), str(commits.two))
    assert.deepEqual(older.versions.map(x => x.message), ['second x', 'first x'])
    const byCid = await node.frames.history('h/x', { ref: (commits.one as CID).toString() })
    assert.deepEqual(byCid.versions.map(x => x.message), ['first x'])
  })

  it('stops the search for steps at its bound and says so', async () => {
    const { node } = t
    const bounded = await node.frames.history('h/x', { stepBudget: 1 })
    assert.equal(bounded.stepsComplete, false)
    assert.equal(bounded.versions.length, 4)
    assert.equal((await node.frames.history('h/x', { stepBudget: 100 })).stepsComplete, true)
  })

  it('refuses an unknown id, an unknown ref and a mistyped CID with their codes', async () => {
    const { node } = t
    await assert.rejects(node.frames.history('h/never'), { code: 'ERR_FRAME_NOT_FOUND' })
    await assert.rejects(node.frames.history('h/x', { ref: 'no-such-branch' }), { code: 'ERR_REF_NOT_FOUND' })
    await assert.rejects(node.frames.history('h/x', { ref: 'bafyreiabcdefghijklmnopqrstuvwxyz234567' }), { code: 'ERR_CID_INVALID' })
    await assert.rejects(node.frames.history('h/other', { ref: 'HEAD~9' }), { code: 'ERR_REF_NOT_FOUND' })
  })

  it('follows a branch: another branch has its own versions; a merged change is the side branch\'s commit', async (ctx) => {
    const { node, v } = await ownHistory(ctx)
    await node.commits.commit({ message: 'three' })
    await node.refs.checkout('side', { create: true })
    const sideV = (await node.frames.put(note('h/x', 'side'))).cid
    const sideCommit = (await node.commits.commit({ message: 'x on side' })).commit
    await node.refs.checkout('main')
    await node.frames.put(note('h/y', 'main only'))
    await node.commits.commit({ message: 'y on main' })
    const merged = await node.commits.merge('side')
    assert.equal(merged.mode, 'merge')
    const h = await node.frames.history('h/x', { limit: 2 })
    assert.deepEqual(h.versions.map(x => [x.message, str(x.commit), str(x.cid)]), [['x on side', str(sideCommit), str(sideV)], ['three', h.versions[1]?.commit.toString(), str(v.staged)]])
    const onSide = await node.frames.history('h/x', { ref: 'side', limit: 1 })
    assert.equal(onSide.branch, 'side')
    assert.equal(str(onSide.versions[0]?.commit), str(sideCommit))
  })

  it('revert stages an earlier version of the id; other CIDs are refused with ERR_FRAME_NOT_FOUND', async (ctx) => {
    const { node, v, commits } = await ownHistory(ctx)
    const r = await node.frames.revert('h/x', v.two as CID)
    assert.equal(str(r.cid), str(v.two))
    assert.deepEqual(r.frame.body, { text: 'two' })
    assert.equal(str((await node.frames.get('h/x')).cid), str(v.two))
    const h = await node.frames.history('h/x', { limit: 1 })
    assert.equal(str(h.staged?.cid), str(v.two))

    const other = (await node.frames.get('h/other')).cid
    await assert.rejects(node.frames.revert('h/x', other), (err: any) => {
      assert.equal(err.code, 'ERR_FRAME_NOT_FOUND')
      assert.match(err.message, /is a version of frame "h\/other"/)
      return true
    })
    await assert.rejects(node.frames.revert('h/x', commits.one as CID), { code: 'ERR_FRAME_NOT_FOUND', message: /is a commit, not a frame/ })
    // A CID of a block this repository does not hold (another frame's content, never stored here).
    const never = encodeFrame(frameFromJson(note('h/x', 'never stored'))).cid
    await assert.rejects(node.frames.revert('h/x', never), { code: 'ERR_FRAME_NOT_FOUND', message: /no such block/ })
    // Conditional, as a put: a stale expected version is refused.
    await assert.rejects(node.frames.revert('h/x', v.one as CID, { ifMatch: v.staged }), { code: 'ERR_CONFLICT' })
    assert.equal(str((await node.frames.revert('h/x', v.one as CID, { ifMatch: v.two })).cid), str(v.one))
  })
})
