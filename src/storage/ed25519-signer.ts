import { createPrivateKey, sign } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import type { Signer } from '../core/signing.ts'

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): SEQUENCE { version 0, algorithm id-Ed25519, OCTET STRING { seed } }.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/**
 * Signs with the node's Ed25519 key through one node:crypto KeyObject. `@libp2p/crypto`'s
 * `sign` re-imports the key on every call (about 100 µs); this is about 30 µs per signature.
 * Signatures are the same bytes (Ed25519 is deterministic), verified by the same peer id.
 */
export function ed25519Signer (id: string, key: PrivateKey): Signer {
  if (key.type !== 'Ed25519') return { id, sign: (bytes) => key.sign(bytes) }
  return ed25519SeedSigner(id, key.raw.subarray(0, 32))
}

/** The same signer from the key's 32-byte seed (no `@libp2p/crypto` key object needed). */
export function ed25519SeedSigner (id: string, seed: Uint8Array): Signer {
  const keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  return { id, sign: (bytes) => sign(null, bytes, keyObject) }
}
