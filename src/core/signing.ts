import { createPublicKey, verify } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { base58btc } from 'multiformats/bases/base58'
import { SignatureInvalidError } from './errors.ts'

/** What signs commits and trace steps: the node's Ed25519 key, named by its peer id. */
export interface Signer {
  /** The peer id (base58btc) of the key: the node's identity and the `author`/`node` field. */
  readonly id: string
  sign (bytes: Uint8Array): Uint8Array | Promise<Uint8Array>
}

interface PublicKeyVerifier { verify (data: Uint8Array, sig: Uint8Array): boolean | Promise<boolean> }

const keys = new Map<string, PublicKeyVerifier>()

// An Ed25519 peer id (12D3KooW…) is base58btc of the identity multihash (0x00, length 36) of the
// public key's protobuf (field 1 = Ed25519, field 2 = 32 bytes); SPKI wraps the raw key for node:crypto.
const ED25519_PEER_ID_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20)
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/**
 * The Ed25519 key named by a base58btc peer id, read with node:crypto (the same verification
 * `@libp2p/crypto` does in Node, without loading it: that cost a third of a second of every CLI
 * command's start-up). Undefined for any other form of peer id.
 */
function ed25519KeyOf (peerId: string): PublicKeyVerifier | undefined {
  let mh: Uint8Array
  try { mh = base58btc.baseDecode(peerId) } catch { return undefined }
  if (mh.length !== ED25519_PEER_ID_PREFIX.length + 32 || ED25519_PEER_ID_PREFIX.some((b, i) => mh[i] !== b)) return undefined
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, mh.subarray(ED25519_PEER_ID_PREFIX.length)]), format: 'der', type: 'spki' })
  return { verify: (data, sig) => { try { return verify(null, data, key, sig) } catch { return false } } }
}

async function publicKeyOf (peerId: string): Promise<PublicKeyVerifier> {
  let key = keys.get(peerId) ?? ed25519KeyOf(peerId)
  if (key == null) {
    const { peerIdFromString } = await import('@libp2p/peer-id')
    let parsed
    try {
      parsed = peerIdFromString(peerId)
    } catch {
      throw new SignatureInvalidError(`signer "${peerId}" is not a valid peer id`)
    }
    if (parsed.publicKey == null) throw new SignatureInvalidError(`peer id ${peerId} does not embed its public key`)
    key = parsed.publicKey // already a key object (reading its raw bytes as a protobuf failed for secp256k1)
  }
  if (!keys.has(peerId)) {
    if (keys.size > 10_000) keys.clear()
    keys.set(peerId, key)
  }
  return key
}

/** The bytes that are signed: the DAG-CBOR encoding of the value without its `sig` field. */
export function signingPayload (value: Record<string, unknown>): Uint8Array {
  const { sig: _sig, ...unsigned } = value
  return dagCbor.encode(unsigned)
}

/** Signs `value` (without `sig`) and returns it with `sig` set. */
export async function signValue<T extends Record<string, unknown>> (signer: Signer, value: T): Promise<T & { sig: Uint8Array }> {
  const sig = await signer.sign(signingPayload(value))
  return { ...value, sig }
}

/** Throws `ERR_SIGNATURE_INVALID` unless `sig` is `signerId`'s signature of `value` minus `sig`. */
export async function verifyValueSignature (what: string, signerId: string, value: Record<string, unknown>): Promise<void> {
  const sig = value.sig
  if (!(sig instanceof Uint8Array)) throw new SignatureInvalidError(`${what} has no signature`)
  const ok = await (await publicKeyOf(signerId)).verify(signingPayload(value), sig)
  if (!ok) throw new SignatureInvalidError(`${what} has a signature that does not verify against ${signerId}`)
}
