import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cidOf } from '../../src/core/cid.ts'
import { createHeadCheck } from '../../src/services/head-check.ts'
import type { Sync } from '../../src/services/sync.ts'
import type { VerifyService } from '../../src/services/verify.ts'

const head = cidOf(new TextEncoder().encode('a head'))
const other = cidOf(new TextEncoder().encode('another head'))

/** A sync that takes `ms` and fails for the peers in `corrupt` (they send a forged block); a verifier that counts its runs. */
function fakes (ms: number, corrupt: Set<string> = new Set(), bad: Set<string> = new Set()): { sync: Sync, verifier: VerifyService, syncs: string[], verified: string[] } {
  const syncs: string[] = []
  const verified: string[] = []
  const sync: Sync = async (want, options) => {
    const peer = options?.from?.[0] ?? ''
    syncs.push(peer)
    await new Promise(resolve => setTimeout(resolve, ms))
    if (corrupt.has(peer)) throw Object.assign(new Error(`peer ${peer} sent a forged block`), { code: 'ERR_SYNC_PROTOCOL', details: { reason: 'ERR_BLOCK_CORRUPT' } })
    if (peer === 'away') throw Object.assign(new Error('peer away'), { code: 'ERR_PEER_UNREACHABLE' })
    return { want, peer, blocks: 1, bytes: 1, ms }
  }
  const verifier = {
    verify: async (spec: string) => {
      verified.push(spec)
      await new Promise(resolve => setTimeout(resolve, ms))
      return bad.has(spec) ? { ok: false, problems: [{ code: 'ERR_FRAME_INVALID', message: 'a frame fails its schema' }] } : { ok: true, problems: [] }
    }
  } as unknown as VerifyService
  return { sync, verifier, syncs, verified }
}

describe('coherence check of published heads (services/head-check.ts)', () => {
  it('verifies a head published by several peers at once only once, and never again once it passed', async () => {
    const { sync, verifier, syncs, verified } = fakes(30)
    const check = createHeadCheck(sync, verifier)
    const results = await Promise.all(['a', 'b', 'c'].map(async peer => await check(peer, head, [])))
    assert.deepEqual(results, [undefined, undefined, undefined])
    assert.deepEqual(verified, [head.toString()])
    assert.equal(syncs.length, 3, 'each peer\'s sync still runs (a no-op when the blocks are here)')
    assert.equal(await check('d', head, []), undefined)
    assert.deepEqual(verified, [head.toString()])
  })

  it('a head that is one of the haves passes without a verification', async () => {
    const { sync, verifier, verified } = fakes(1)
    assert.equal(await createHeadCheck(sync, verifier)('a', head, [other, head]), undefined)
    assert.deepEqual(verified, [])
  })

  it('a failure is the peer\'s own: a forged answer from one peer does not fail the same head for the others', async () => {
    const { sync, verifier } = fakes(20, new Set(['liar']))
    const check = createHeadCheck(sync, verifier)
    const [liar, honest] = await Promise.all([check('liar', head, []), check('honest', head, [])])
    assert.equal(liar?.code, 'ERR_BLOCK_CORRUPT')
    assert.equal(honest, undefined)
  })

  it('a head that fails verification fails for every peer that publishes it, and is checked again each time', async () => {
    const { sync, verifier, verified } = fakes(1, new Set(), new Set([other.toString()]))
    const check = createHeadCheck(sync, verifier)
    assert.equal((await check('a', other, []))?.code, 'ERR_FRAME_INVALID')
    assert.equal((await check('b', other, []))?.code, 'ERR_FRAME_INVALID')
    assert.equal(verified.length, 2)
  })

  it('a network failure is thrown (to be retried), not reported as a fault of the head', async () => {
    const { sync, verifier } = fakes(1)
    await assert.rejects(createHeadCheck(sync, verifier)('away', head, []), (err: { code?: string }) => err.code === 'ERR_PEER_UNREACHABLE')
  })
})
