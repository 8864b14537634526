/**
 * An import reads its CAR before it takes the write lock: a sync answer or an upload that arrives
 * slowly does not hold up the node's own writes, and what it brings becomes visible all at once
 * when its last byte is in.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { tempNode } from '../helpers/repo.ts'
import type { FramehubNode } from '../../src/node.ts'
import { createEventBus } from '../../src/services/events.ts'
import { createSnapshotService } from '../../src/services/snapshots.ts'

describe('snapshots.importCar reads the CAR without the write lock', () => {
  let source: FramehubNode
  let target: FramehubNode
  const cleanups: Array<() => Promise<void>> = []
  before(async () => {
    for (const set of [(n: FramehubNode) => { source = n }, (n: FramehubNode) => { target = n }]) {
      const t = await tempNode()
      set(t.node)
      cleanups.push(t.cleanup)
    }
  })
  after(async () => { for (const c of cleanups) await c() })

  test('a commit and a frame put finish while an import waits for the rest of its CAR; the import then completes', async () => {
    for (let i = 0; i < 20; i++) await source.frames.put({ id: `far/${i}`, kind: 'fact', title: `far ${i}` })
    const { commit } = await source.commits.commit({ message: 'to import elsewhere' })
    const chunks = await Array.fromAsync(source.snapshots.exportCar(commit).car)
    const bytes = Buffer.concat(chunks)
    // The CAR in two halves; the second only when the test lets it go.
    const { promise: letGo, resolve: release } = Promise.withResolvers<void>()
    const half = bytes.byteLength >> 1
    const slow = (async function * () {
      yield bytes.subarray(0, half)
      await letGo
      yield bytes.subarray(half)
    })()
    let imported = false
    const importing = target.snapshots.importCar(slow).then((stats) => { imported = true; return stats })
    // The node's own writes go on meanwhile (they take the write lock).
    const bounded = <T>(p: Promise<T>, what: string): Promise<T> => Promise.race([p, new Promise<T>((_resolve, reject) => { setTimeout(() => { reject(new Error(`${what} waited for the import`)) }, 20_000).unref() })])
    await bounded(target.frames.put({ id: 'near/1', kind: 'fact', title: 'written while a CAR arrives' }), 'frames.put')
    const own = await bounded(target.commits.commit({ message: 'while importing' }), 'commits.commit')
    assert.ok(own.commit != null)
    assert.equal(imported, false, 'the import is still waiting for its CAR')
    assert.equal(await target.repo.blocks.has(commit), false, 'nothing of the import is visible before its CAR is complete')
    release()
    const stats = await importing
    assert.ok(stats.root.equals(commit))
    assert.equal(await target.repo.blocks.has(commit), true)
    assert.equal((await target.frames.get('far/3', { ref: commit.toString() })).frame.title, 'far 3')
  })

  test('when the write lock\'s turn fails before it starts, the import fails with it (it does not wait forever)', async () => {
    const { commit } = await source.commits.commit({ message: 'another', allowEmpty: true })
    const car = source.snapshots.exportCar(commit).car
    const failing = async (): Promise<never> => { throw new Error('journal flush failed') }
    const snapshots = createSnapshotService({ blocks: target.repo.blocks, db: target.repo.db, exclusive: failing, events: createEventBus() }, undefined as never)
    await assert.rejects(snapshots.importCar(car), /journal flush failed/)
  })
})
