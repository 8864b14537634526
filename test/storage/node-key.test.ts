import assert from 'node:assert/strict'
import { it } from 'node:test'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519SeedSigner } from '../../src/storage/ed25519-signer.ts'
import { generateNodeKey, readNodeKey } from '../../src/storage/node-key.ts'

it('a key made with node:crypto is a libp2p Ed25519 key, and its peer id is the one libp2p derives', () => {
  for (let i = 0; i < 20; i++) {
    const bytes = generateNodeKey()
    const key = privateKeyFromProtobuf(bytes)
    assert.equal(key.type, 'Ed25519')
    assert.deepEqual(privateKeyToProtobuf(key), bytes, 'the same protobuf bytes libp2p writes')
    assert.equal(readNodeKey(bytes)?.peerId, peerIdFromPrivateKey(key).toString())
  }
})

it('a key libp2p made (older repositories) reads to the same peer id and signs the same bytes', async () => {
  for (let i = 0; i < 20; i++) {
    const key = await generateKeyPair('Ed25519')
    const read = readNodeKey(privateKeyToProtobuf(key))
    assert.ok(read != null)
    assert.equal(read.peerId, peerIdFromPrivateKey(key).toString())
    const msg = new TextEncoder().encode(`framehub ${i}`)
    const sig = await ed25519SeedSigner(read.peerId, read.seed).sign(msg)
    assert.deepEqual(new Uint8Array(sig), new Uint8Array(await key.sign(msg)))
  }
})

it('other keys, and an Ed25519 key whose halves disagree, are left to libp2p', async () => {
  assert.equal(readNodeKey(privateKeyToProtobuf(await generateKeyPair('secp256k1'))), undefined)
  const bytes = generateNodeKey()
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
  assert.equal(readNodeKey(bytes), undefined)
  assert.equal(readNodeKey(new Uint8Array(10)), undefined)
})

it('signatures are verified without @libp2p/crypto for Ed25519 peer ids, with it for others, and agree with libp2p', async () => {
  const { signValue, verifyValueSignature } = await import('../../src/core/signing.ts')
  for (const type of ['Ed25519', 'secp256k1'] as const) {
    const key = await generateKeyPair(type)
    const id = peerIdFromPrivateKey(key).toString()
    const signed = await signValue({ id, sign: async (b: Uint8Array) => await key.sign(b) }, { message: 'framehub', n: 1 })
    await verifyValueSignature('value', id, signed)
    await assert.rejects(verifyValueSignature('value', id, { ...signed, n: 2 }), { code: 'ERR_SIGNATURE_INVALID' })
    await assert.rejects(verifyValueSignature('value', id, { ...signed, sig: new Uint8Array(3) }), { code: 'ERR_SIGNATURE_INVALID' })
  }
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const key = await generateKeyPair('Ed25519')
  const signed = await signValue({ id: 'x', sign: async (b: Uint8Array) => await key.sign(b) }, { a: 1 })
  await assert.rejects(verifyValueSignature('value', other, signed), { code: 'ERR_SIGNATURE_INVALID' }, 'another key')
  await assert.rejects(verifyValueSignature('value', 'not a peer id', signed), { code: 'ERR_SIGNATURE_INVALID' })
})
