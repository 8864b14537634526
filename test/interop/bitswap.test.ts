/**
 * A stock Helia node (createHeliaLight + withLibp2pLight + withBitswap, in-memory stores, no
 * framehub code in its setup) dials a framehub daemon process on loopback and fetches, over
 * bitswap, a frame block and an attachment (UnixFS) that were put through the CLI.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import { startDaemonProcess } from '../helpers/daemon.ts'
import type { DaemonProcess } from '../helpers/daemon.ts'
import { tempDir } from '../helpers/repo.ts'

const FETCH_TIMEOUT_MS = 20_000

/** The first IPv4/IPv6 host of a multiaddr string ('' if none). */
function hostOf (addr: string): string {
  return /^\/ip[46]\/([^/]+)/.exec(addr)?.[1] ?? ''
}

describe('interop: a stock Helia node fetches from a framehub daemon over bitswap (loopback only)', { timeout: 90_000 }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let daemon: DaemonProcess | undefined
  let helia: HeliaWithLibp2p<any> | undefined
  let frameCid: CID
  let attachedFrameCid: CID
  let attachmentCid: CID
  /** Remote address of every connection the stock node ever had (open events, in or out). */
  const remotes: string[] = []
  // About 1.5 MB: several UnixFS leaves under a dag-pb root with either importer chunk size
  // (256 KiB or 1 MiB), so cat walks a DAG and not a single raw block.
  const fileBytes = Buffer.from(Array.from({ length: 30_000 }, (_, i) => `line ${i} of an attachment fetched over bitswap\n`).join(''))

  before(async () => {
    tmp = await tempDir('framehub-bitswap-interop-')
    daemon = await startDaemonProcess(join(tmp.dir, 'repo'), [], { timeoutMs: 30_000 })
    assert.ok(daemon.info.addresses.length > 0, 'the daemon reports libp2p addresses')

    const framePath = join(tmp.dir, 'frame.json')
    await writeFile(framePath, JSON.stringify({ id: 'interop/bitswap/plain', kind: 'fact', title: 'fetched by a stock node', body: { n: 42 } }))
    const put = await daemon.cli(['--json', 'frame', 'put', framePath], { timeoutMs: 30_000 })
    assert.equal(put.code, 0, put.stderr)
    frameCid = CID.parse(put.json.cid['/'] ?? put.json.cid)

    const withAttachment = join(tmp.dir, 'with-attachment.json')
    const filePath = join(tmp.dir, 'notes.txt')
    await writeFile(withAttachment, JSON.stringify({ id: 'interop/bitswap/attached', kind: 'note', title: 'has a file' }))
    await writeFile(filePath, fileBytes)
    const putAttached = await daemon.cli(['--json', 'frame', 'put', withAttachment, '--attach', filePath], { timeoutMs: 30_000 })
    assert.equal(putAttached.code, 0, putAttached.stderr)
    attachedFrameCid = CID.parse(putAttached.json.cid['/'] ?? putAttached.json.cid)
    const got = await daemon.cli(['--json', 'frame', 'get', attachedFrameCid.toString()], { timeoutMs: 30_000 })
    assert.equal(got.code, 0, got.stderr)
    const attachments = got.json.frame.attachments as Array<{ name: string, cid: { '/': string }, size: number }>
    assert.equal(attachments.length, 1)
    const [attachment] = attachments as [typeof attachments[number]]
    assert.equal(attachment.size, fileBytes.length)
    attachmentCid = CID.parse(attachment.cid['/'])

    // The stock node: nothing from framehub, no discovery, no routers, listening on loopback only.
    helia = withBitswap(withLibp2pLight(createHeliaLight({
      blockstore: new MemoryBlockstore(),
      datastore: new MemoryDatastore(),
      codecs: [dagCbor]
    }), {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [],
      services: { identify: identify(), ping: ping() }
    }))
    await helia.start()
    // libp2p exists once started; with no discovery nothing has been dialled yet.
    assert.equal(helia.libp2p.getConnections().length, 0)
    helia.libp2p.addEventListener('connection:open', (e) => { remotes.push(e.detail.remoteAddr.toString()) })
    await helia.libp2p.dial(multiaddr(daemon.info.addresses[0]), { signal: AbortSignal.timeout(10_000) })
  })

  after(async () => {
    await helia?.stop()
    await daemon?.stop()
    await tmp?.cleanup()
  })

  it('the daemon advertises loopback addresses only', () => {
    for (const addr of daemon!.info.addresses) assert.ok(['127.0.0.1', '::1'].includes(hostOf(addr)), addr)
  })

  it('fetches a frame block by CID; it verifies and decodes to the frame', async () => {
    const chunks: Uint8Array[] = []
    for await (const chunk of helia!.blockstore.get(frameCid, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })) chunks.push(chunk)
    const bytes = Buffer.concat(chunks)
    assert.deepEqual(new Uint8Array(createHash('sha256').update(bytes).digest()), frameCid.multihash.digest)
    const frame = dagCbor.decode(bytes) as { id: string, kind: string, body: { n: number } }
    assert.equal(frame.id, 'interop/bitswap/plain')
    assert.equal(frame.kind, 'fact')
    assert.deepEqual(frame.body, { n: 42 })
  })

  it('fetches a frame with an attachment, then the attachment (UnixFS) by its CID', async () => {
    const chunks: Uint8Array[] = []
    for await (const chunk of helia!.blockstore.get(attachedFrameCid, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })) chunks.push(chunk)
    const frame = dagCbor.decode(Buffer.concat(chunks)) as { id: string, attachments: Array<{ cid: CID }> }
    assert.equal(frame.id, 'interop/bitswap/attached')
    assert.ok(frame.attachments[0]?.cid.equals(attachmentCid), 'the frame block links the attachment')

    assert.equal(attachmentCid.code, dagPb.code, 'the attachment root is a dag-pb node')
    const content: Uint8Array[] = []
    for await (const chunk of unixfs(helia!).cat(attachmentCid, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })) content.push(chunk)
    assert.deepEqual(Buffer.concat(content), fileBytes)
    // The root (now in the stock node's own blockstore) links several leaves, all fetched.
    const rootChunks: Uint8Array[] = []
    for await (const chunk of helia!.blockstore.get(attachmentCid, { offline: true })) rootChunks.push(chunk)
    const root = dagPb.decode(Buffer.concat(rootChunks))
    assert.ok(root.Links.length > 1, `${root.Links.length} leaves`)
    for (const link of root.Links) assert.ok(await helia!.blockstore.has(link.Hash), `leaf ${link.Hash} fetched`)
  })

  it('the stock node contacted nothing but loopback', () => {
    assert.ok(remotes.length > 0)
    for (const addr of remotes) assert.equal(hostOf(addr), '127.0.0.1', addr)
    const open = helia!.libp2p.getConnections()
    assert.ok(open.length > 0)
    for (const conn of open) assert.equal(hostOf(conn.remoteAddr.toString()), '127.0.0.1', conn.remoteAddr.toString())
  })
})
