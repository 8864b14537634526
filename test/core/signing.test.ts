import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encodeBlock } from '../../src/core/block.ts'
import { createCommit, decodeCommit, verifyCommit } from '../../src/core/commit.ts'
import { createTraceStep, decodeTraceStep, verifyTraceStep } from '../../src/core/trace-step.ts'
import type { Signer } from '../../src/core/signing.ts'
import { emptyTree } from '../../src/core/tree/index.ts'

async function signer (): Promise<Signer> {
  const key = await generateKeyPair('Ed25519')
  return { id: peerIdFromPrivateKey(key).toString(), sign: (b) => key.sign(b) }
}

describe('signed commits and trace steps', () => {
  it('a commit verifies, and any change to it does not', async () => {
    const me = await signer()
    const c = await createCommit(me, { tree: emptyTree().root, parents: [], message: 'hello', time: 1 })
    const decoded = decodeCommit(c.cid, c.bytes)
    await verifyCommit(c.cid, decoded)
    for (const tamper of [{ message: 'bye' }, { time: 2 }, { parents: [c.cid] }, { author: (await signer()).id }]) {
      const forged = encodeBlock({ ...decoded, ...tamper })
      await assert.rejects(verifyCommit(forged.cid, decodeCommit(forged.cid, forged.bytes)), { code: 'ERR_SIGNATURE_INVALID' })
    }
  })

  it('a trace step verifies, and a step signed by another key does not', async () => {
    const me = await signer()
    const other = await signer()
    const s = await createTraceStep(me, { session: 'goal', parents: [], op: 'thought', content: { text: 'hm' } })
    await verifyTraceStep(s.cid, decodeTraceStep(s.cid, s.bytes))
    const theirs = await createTraceStep(other, { session: 'goal', parents: [], op: 'thought', content: { text: 'hm' }, time: s.step.time })
    const forged = encodeBlock({ ...theirs.step, node: me.id })
    await assert.rejects(verifyTraceStep(forged.cid, decodeTraceStep(forged.cid, forged.bytes)), { code: 'ERR_SIGNATURE_INVALID' })
  })

  it('decoders reject malformed commits and steps with a stable code', () => {
    const notCommit = encodeBlock({ tree: 1, parents: 'x', author: 3 })
    assert.throws(() => decodeCommit(notCommit.cid, notCommit.bytes), { code: 'ERR_COMMIT_INVALID' })
    const notStep = encodeBlock({ session: 'a b', op: 1, node: null })
    assert.throws(() => decodeTraceStep(notStep.cid, notStep.bytes), { code: 'ERR_TRACE_STEP_INVALID' })
  })
})
