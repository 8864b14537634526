import * as dagCbor from '@ipld/dag-cbor'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { SyncProtocolError } from '../core/errors.ts'

/**
 * framehub heads, sent once by each side of a new connection: the newest entry of every chain the
 * sender holds (its own first, then those of the peers it follows), as the entries' own blocks.
 *
 * The sender opens a stream and writes one length-prefixed DAG-CBOR message
 * `{ v: 1, entries: [bytes] }` (at most MAX_ENTRIES, MAX_MESSAGE_BYTES in all), then closes it;
 * nothing comes back (the other side sends its own on a stream of its own).
 *
 * Why: two nodes that meet (a partition heals, a node comes back) need each other's newest
 * proposals before anything else, and every other path to them costs more: OrbitDB's heads
 * exchange waits for the pubsub subscriptions and frames nothing (its messages break on a busy
 * link), and the roster names a head that then has to be fetched in a request of its own. With
 * the entries of the chains it follows, a node that meets one node of the other side learns every
 * proposal of that side at once. Each entry is checked by the receiver as if it came from its
 * author: its hash (its CID is computed here), its signature (the chain's owner, before it is
 * stored; see chains.ts), OrbitDB's access check when it is joined.
 */
export const HEADS_PROTOCOL = '/framehub/heads/1.0.0'

/** At most this many entries in a message (the peers kept connected, and this node). */
export const MAX_ENTRIES = 128
/** Longest message; an entry that would make it longer is left out. */
export const MAX_MESSAGE_BYTES = 1024 * 1024
/** A message not read within this long is given up. */
const READ_TIMEOUT_MS = 5000

/** A chain entry as sent: its block, with the CID it hashes to. */
export interface EntryBlock {
  cid: CID
  bytes: Uint8Array
}

/** DAG-CBOR with SHA-256, as OrbitDB writes its entries. */
export async function entryBlock (bytes: Uint8Array): Promise<EntryBlock> {
  return { cid: CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes }
}

/** The message for `entries`, as many as fit (in the order given). */
export function encodeHeads (entries: Uint8Array[]): Uint8Array {
  const kept: Uint8Array[] = []
  let size = 16
  for (const bytes of entries.slice(0, MAX_ENTRIES)) {
    // A byte string's header is at most 9 bytes.
    if (size + bytes.byteLength + 9 > MAX_MESSAGE_BYTES) continue
    size += bytes.byteLength + 9
    kept.push(bytes)
  }
  return dagCbor.encode({ v: 1, entries: kept })
}

export function decodeHeads (bytes: Uint8Array): Uint8Array[] {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new SyncProtocolError(`heads message is not DAG-CBOR: ${(err as Error).message}`)
  }
  const v = value as { v?: unknown, entries?: unknown }
  if (v == null || typeof v !== 'object' || v.v !== 1 || !Array.isArray(v.entries) || v.entries.length > MAX_ENTRIES || !v.entries.every(e => e instanceof Uint8Array)) {
    throw new SyncProtocolError(`heads message must be { v: 1, entries: [bytes] } with at most ${MAX_ENTRIES} entries`)
  }
  return v.entries as Uint8Array[]
}

/** Sends `entries` to `peer` on a stream of its own. */
export async function sendHeads (libp2p: Libp2p, peer: PeerId, entries: Uint8Array[], signal: AbortSignal): Promise<void> {
  // The protocol's name goes with the message (no round trip first): a peer that does not speak
  // it refuses the stream, and nothing is lost.
  const stream = await libp2p.dialProtocol(peer, HEADS_PROTOCOL, { signal, negotiateFully: false })
  try {
    await lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES }).write(encodeHeads(entries), { signal })
    await stream.close({ signal })
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/** Reads one heads message from `stream` and hands its entries over with their CIDs. Never throws. */
export async function serveHeads (stream: Stream, connection: Connection, options: {
  onEntries: (peer: string, entries: EntryBlock[]) => Promise<void>
  log: { debug: (obj: object, msg: string) => void }
}): Promise<void> {
  const peer = connection.remotePeer.toString()
  try {
    const message = await lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES }).read({ signal: AbortSignal.timeout(READ_TIMEOUT_MS) })
    await stream.close().catch(() => {})
    const entries = await Promise.all(decodeHeads(message.subarray()).map(entryBlock))
    await options.onEntries(peer, entries)
  } catch (err) {
    options.log.debug({ peer, err: (err as Error).message }, 'heads from a peer refused')
    stream.abort(err as Error)
  }
}
