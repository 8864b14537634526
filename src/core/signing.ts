import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PublicKey } from '@libp2p/interface'
import * as dagCbor from '@ipld/dag-cbor'
import { SignatureInvalidError } from './errors.ts'

/** What signs commits and trace steps: the node's Ed25519 key, named by its peer id. */
export interface Signer {
  /** The peer id (base58btc) of the key: the node's identity and the `author`/`node` field. */
  readonly id: string
  sign (bytes: Uint8Array): Uint8Array | Promise<Uint8Array>
}

const keys = new Map<string, PublicKey>()

function publicKeyOf (peerId: string): PublicKey {
  let key = keys.get(peerId)
  if (key == null) {
    let parsed
    try {
      parsed = peerIdFromString(peerId)
    } catch {
      throw new SignatureInvalidError(`signer "${peerId}" is not a valid peer id`)
    }
    if (parsed.publicKey == null) throw new SignatureInvalidError(`peer id ${peerId} does not embed its public key`)
    key = parsed.publicKey.type === 'Ed25519' ? parsed.publicKey : publicKeyFromProtobuf(parsed.publicKey.raw)
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
  const ok = await publicKeyOf(signerId).verify(signingPayload(value), sig)
  if (!ok) throw new SignatureInvalidError(`${what} has a signature that does not verify against ${signerId}`)
}
