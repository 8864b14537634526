import assert from 'node:assert/strict'
import { it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519Signer } from '../../src/storage/ed25519-signer.ts'

it('the KeyObject signer gives the same signatures as @libp2p/crypto, and they verify', async () => {
  const key = await generateKeyPair('Ed25519')
  const signer = ed25519Signer(peerIdFromPrivateKey(key).toString(), key)
  for (const msg of [new Uint8Array(), new TextEncoder().encode('framehub'), new Uint8Array(5000).fill(7)]) {
    const sig = await signer.sign(msg)
    assert.deepEqual(new Uint8Array(sig), new Uint8Array(await key.sign(msg)))
    assert.equal(await key.publicKey.verify(msg, sig), true)
  }
})
