import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { cidOf } from '../../src/core/cid.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { waitFor } from '../helpers/daemon.ts'
import { tempDir } from '../helpers/repo.ts'

describe('a published head whose DAG holds a block over the limit', { timeout: 120_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let a: FramehubNode
  let b: FramehubNode
  const warnings: Array<{ msg: string, obj: Record<string, unknown> }> = []

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-sync-limits-'))
    const listen = ['/ip4/127.0.0.1/tcp/0']
    const log = { info () {}, debug () {}, warn (obj: Record<string, unknown>, msg: string) { warnings.push({ msg, obj }) } }
    a = await createNode({ repo: join(dir, 'a'), create: true, network: { listen, network: 'limits-test' } })
    b = await createNode({ repo: join(dir, 'b'), create: true, network: { listen, network: 'limits-test', log, bootstrap: [a.network?.addresses()[0] as string] } })
  })
  after(async () => {
    await b?.close()
    await a?.close()
    await cleanup()
  })

  it('is refused by the peer with ERR_PAYLOAD_TOO_LARGE, logged once as not retried, never stored', async () => {
    // A 2 MiB frame block as a framehub without the limit stored it, linked from a frame of a shared branch.
    const bytes = dagCbor.encode({ id: 'old/big', kind: 'fact', body: 'z'.repeat(2 * 1024 * 1024) })
    const big = cidOf(bytes)
    await a.repo.batch().putBlock(big, bytes).write()
    await a.refs.checkout('shared/big', { create: true })
    await a.frames.put({ id: 'old/index', kind: 'fact', links: [{ cid: { '/': big.toString() } }] })
    await a.commits.commit({ message: 'holds an old big block' })
    await a.replication!.publish({ branch: 'shared/big' })
    const refused = await waitFor('b refuses the head', async () => warnings.find(w => w.obj.code === 'ERR_PAYLOAD_TOO_LARGE'), 60_000)
    assert.match(refused.msg, /not retried/)
    assert.match(String(refused.obj.err), new RegExp(`block ${big.toString()} is ${bytes.byteLength} bytes, over the block limit`))
    assert.equal(warnings.filter(w => /will retry/.test(w.msg) && w.obj.code === 'ERR_PAYLOAD_TOO_LARGE').length, 0, 'a refusal for good is not queued for a retry')
    assert.equal(await b.repo.blocks.has(big), false)
  })
})
