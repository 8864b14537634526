import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'

/**
 * The node's Ed25519 key in libp2p's protobuf form (`PrivateKey { Type = Ed25519; Data = seed ‖
 * public key }`, what `@libp2p/crypto`'s privateKeyToProtobuf writes), made and read with
 * node:crypto. Loading `@libp2p/crypto` to read it cost a third of a second of every command's
 * start-up; it is loaded only when the node joins the network (libp2p wants its own key object).
 */

// PrivateKey protobuf: field 1 (varint) KeyType.Ed25519 = 1, field 2 (bytes) of 64 bytes.
const PROTOBUF_PREFIX = Uint8Array.of(0x08, 0x01, 0x12, 0x40)
// PublicKey protobuf of an Ed25519 key: field 1 = 1, field 2 of 32 bytes.
const PUBLIC_PREFIX = Uint8Array.of(0x08, 0x01, 0x12, 0x20)
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** A new Ed25519 key, as protobuf bytes. */
export function generateNodeKey (): Uint8Array {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32)
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
  const out = new Uint8Array(PROTOBUF_PREFIX.length + 64)
  out.set(PROTOBUF_PREFIX)
  out.set(seed, PROTOBUF_PREFIX.length)
  out.set(pub, PROTOBUF_PREFIX.length + 32)
  return out
}

/** The peer id and seed of an Ed25519 key in protobuf form; undefined for any other key. */
export function readNodeKey (protobuf: Uint8Array): { peerId: string, seed: Uint8Array } | undefined {
  if (protobuf.length !== PROTOBUF_PREFIX.length + 64 || PROTOBUF_PREFIX.some((b, i) => protobuf[i] !== b)) return undefined
  const seed = protobuf.subarray(4, 36)
  const pub = protobuf.subarray(36, 68)
  // The stored public half must be the seed's: a key whose halves disagree is not used as is.
  const derived = createPublicKey(createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }))
    .export({ format: 'der', type: 'spki' }).subarray(-32)
  if (!derived.equals(pub)) return undefined
  // An Ed25519 peer id is the identity multihash of the public key's protobuf, in base58btc.
  const multihash = new Uint8Array(2 + PUBLIC_PREFIX.length + 32)
  multihash.set([0x00, PUBLIC_PREFIX.length + 32])
  multihash.set(PUBLIC_PREFIX, 2)
  multihash.set(pub, 2 + PUBLIC_PREFIX.length)
  return { peerId: base58btc.encode(multihash).slice(1), seed }
}
