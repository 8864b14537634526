import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { walkClosure } from '../../src/core/closure.ts'
import { cidKey } from '../../src/core/cid.ts'
import { missingBlocks } from '../../src/core/missing.ts'
import { decide } from '../../src/core/consensus/index.ts'
import { World } from './consensus/world.ts'
import type { FramehubNode } from '../../src/node.ts'
import { tempNode } from '../helpers/repo.ts'

async function closure (node: FramehubNode, roots: CID[]): Promise<Set<string>> {
  const seen = new Set<string>()
  for (const r of roots) for await (const b of walkClosure(node.repo.blocks, r, { seen: new Set() })) seen.add(cidKey(b.cid))
  return seen
}

async function missing (node: FramehubNode, want: CID, haves: CID[]): Promise<string[]> {
  const out: string[] = []
  for await (const b of missingBlocks(node.repo.blocks, want, haves)) out.push(cidKey(b.cid))
  return out
}

type Op =
  | { op: 'put', id: number, text: string }
  | { op: 'remove', id: number }
  | { op: 'commit' }
  | { op: 'step', session: number, fork: boolean, frame: boolean }
  | { op: 'branch', name: number }
  | { op: 'merge', name: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), id: fc.nat(40), text: fc.string({ maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), id: fc.nat(40) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'commit' as const }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('step' as const), session: fc.nat(2), fork: fc.boolean(), frame: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('branch' as const), name: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('merge' as const), name: fc.nat(2) }) }
)

describe('missingBlocks: what a peer holding some heads lacks of a DAG', { timeout: 300_000 }, () => {
  it('is complete and foreign-free for random histories, sessions and have sets', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 50 }), fc.infiniteStream(fc.nat()), async (ops, picks) => {
      const { node, cleanup } = await tempNode()
      try {
        /** Every commit, step and frame made, in order: candidates for want and haves. */
        const made: CID[] = []
        const branch = (n: number): string => `b${n}`
        for (const op of ops) {
          if (op.op === 'put') made.push((await node.frames.put({ id: `f/${op.id}`, kind: 'fact', title: op.text })).cid)
          else if (op.op === 'remove') await node.frames.remove(`f/${op.id}`).catch(() => {})
          else if (op.op === 'commit') { const c = await node.commits.commit({ message: 'c' }).catch(() => undefined); if (c != null) made.push(c.commit) } else if (op.op === 'step') {
            const session = `s${op.session}`
            const heads = await node.traces.heads(session).catch(() => [] as CID[])
            const frames = op.frame && made.length > 0 ? [made[made.length - 1] as CID] : []
            const parents = op.fork && heads.length > 0 ? [heads[0] as CID] : heads
            const r = await node.traces.append(session, { op: 'thought', content: made.length, inputs: frames }, { parents })
            made.push(r.cid)
          } else if (op.op === 'branch') {
            await node.commits.commit({ message: 'b' }).catch(() => {})
            await node.refs.checkout(branch(op.name), { create: true }).catch(() => node.refs.checkout(branch(op.name))).catch(() => {})
          } else {
            await node.commits.commit({ message: 'm' }).catch(() => {})
            const r = await node.commits.merge(branch(op.name)).catch(() => undefined)
            if (r != null) made.push(r.commit)
          }
        }
        if (made.length === 0) return
        const it = picks[Symbol.iterator]()
        const pick = (): CID => made[(it.next().value as number) % made.length] as CID
        for (let round = 0; round < 4; round++) {
          const want = pick()
          const haves = Array.from({ length: (it.next().value as number) % 4 }, pick)
          const sent = await missing(node, want, haves)
          const wanted = await closure(node, [want])
          const had = await closure(node, haves)
          assert.equal(new Set(sent).size, sent.length, 'each block once')
          if (!had.has(cidKey(want))) assert.equal(sent[0], cidKey(want), 'want first')
          for (const k of sent) assert.ok(wanted.has(k), 'nothing outside the wanted DAG')
          const got = new Set([...sent, ...had])
          for (const k of wanted) assert.ok(got.has(k), `block ${k} of the wanted DAG is neither sent nor had`)
        }
      } finally {
        await cleanup()
      }
    }), { numRuns: 100 })
  })

  it('sends the frames of a parent\'s tree that the child\'s tree shares (found by the property above)', async () => {
    // c1's whole tree is one leaf {f/2}; c2's tree holds that same leaf beside {f/12}. Asked for
    // c2 by a peer that holds only the frame f/12, both commits are new: the leaf must come with f/2.
    const { node, cleanup } = await tempNode()
    try {
      const f2 = (await node.frames.put({ id: 'f/2', kind: 'fact', title: '' })).cid
      await node.commits.commit({ message: 'c1' })
      const f12 = (await node.frames.put({ id: 'f/12', kind: 'fact', title: '' })).cid
      const c2 = (await node.commits.commit({ message: 'c2' })).commit
      const sent = new Set(await missing(node, c2, [f12]))
      assert.ok(sent.has(cidKey(f2)), 'f/2 is sent')
      const wanted = await closure(node, [c2])
      for (const k of wanted) assert.ok(sent.has(k) || k === cidKey(f12))
    } finally {
      await cleanup()
    }
  })

  it('reads only the new part of a history that holds consensus commits (they have no time)', async () => {
    // Two nodes write 150 commits each, then merge by consensus, twice; the peer has the first
    // consensus commit and asks for a commit on top of the second.
    const w = new World(['a', 'b'])
    const root = await w.write('a', ['x'])
    w.adopt('b', root)
    const consensus = async (): Promise<CID> => {
      const d = await decide(w, 'shared/main', [{ node: 'a', head: w.heads.get('a') as CID }, { node: 'b', head: w.heads.get('b') as CID }])
      assert.ok(d?.merge !== undefined, 'a consensus commit')
      w.add([d.merge, ...d.merge.blocks])
      w.adopt('a', d.head)
      w.adopt('b', d.head)
      return d.head
    }
    for (let i = 0; i < 150; i++) { await w.write('a', [`a${i % 7}`]); await w.write('b', [`b${i % 7}`]) }
    const had = await consensus()
    await w.write('a', ['a-new'])
    await w.write('b', ['b-new'])
    await consensus()
    const want = await w.write('a', ['top'])
    const reads: string[] = []
    // The world keeps no frame blocks (its frames are raw CIDs): a raw frame reads as empty bytes.
    const read = async (cid: CID): Promise<Uint8Array> => cid.code === 0x55 && !w.blocks.has(cid.toString()) ? new Uint8Array() : await w.get(cid)
    const reader = { get: async (cid: CID) => { reads.push(cidKey(cid)); return await read(cid) } }
    const sent = new Set<string>()
    for await (const b of missingBlocks(reader, want, [had])) sent.add(cidKey(b.cid))
    // Complete: everything under `want` that is not under the have.
    const under = async (root: CID): Promise<Set<string>> => {
      const out = new Set<string>()
      for await (const b of walkClosure({ get: read }, root, { seen: new Set() })) out.add(cidKey(b.cid))
      return out
    }
    const theirs = await under(had)
    for (const k of await under(want)) if (!theirs.has(k)) assert.ok(sent.has(k), `block ${k} is sent`)
    // Cheap: the walk stops near the top, it does not go down the 300 commits below.
    assert.ok(reads.length < 60, `read ${reads.length} blocks`)
  })

  it('sends only what changed: a step on a long session, a frame on a large tree', async () => {
    const { node, cleanup } = await tempNode()
    try {
      let head: CID | undefined
      for (let i = 0; i < 300; i++) head = (await node.traces.append('long', { op: 'thought', content: i })).cid
      const next = (await node.traces.append('long', { op: 'conclusion', content: 'done' })).cid
      assert.deepEqual(await missing(node, next, [head as CID]), [cidKey(next)])

      await node.frames.import(Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: `big/${String(i).padStart(5, '0')}`, kind: 'fact', body: i })))
      const base = (await node.commits.commit({ message: 'base' })).commit
      const changed = await node.frames.put({ id: 'big/01500', kind: 'fact', body: 'changed' })
      const tip = (await node.commits.commit({ message: 'tip' })).commit
      const sent = await missing(node, tip, [base])
      assert.ok(sent.includes(cidKey(changed.cid)))
      assert.ok(sent.length <= 1 + 4 + 1, `a commit, one path of tree nodes and the frame (sent ${sent.length})`)
      // With nothing had, everything is sent.
      assert.equal((await missing(node, tip, [])).length, (await closure(node, [tip])).size)
    } finally {
      await cleanup()
    }
  })
})
