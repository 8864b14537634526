import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { CarBlockIterator } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { errorBody, frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

const RAW = 'application/vnd.ipld.raw'
const CAR = 'application/vnd.ipld.car'
const MISSING = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

async function readCar (bytes: Uint8Array): Promise<{ roots: string[], blocks: string[] }> {
  const it = await CarBlockIterator.fromBytes(bytes)
  const roots = (await it.getRoots()).map(String)
  const blocks: string[] = []
  for await (const b of it) {
    const digest = createHash('sha256').update(b.bytes).digest()
    assert.deepEqual(new Uint8Array(digest), b.cid.multihash.digest, `block ${b.cid} matches its hash`)
    blocks.push(b.cid.toString())
  }
  return { roots, blocks }
}

describe('/ipfs trustless gateway', () => {
  let h: Harness
  let leaf: string
  let parent: string
  let commit: string
  let file: string
  before(async () => {
    h = await harness({ attachmentLimit: 4 * 1024 * 1024 })
    leaf = (await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('a/leaf') })).json().cid
    parent = (await h.authed({ method: 'POST', url: '/api/v1/frames', payload: frame('a/parent', { links: [{ cid: { '/': leaf } }] }) })).json().cid
    commit = (await h.authed({ method: 'POST', url: '/api/v1/commits', payload: { message: 'm' } })).json().commit
    // A multi-block UnixFS file (more than two chunks).
    const bytes = Buffer.alloc(2560 * 1024)
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251
    const up = await h.authed({ method: 'POST', url: '/api/v1/attachments?name=data.bin', payload: bytes, headers: { 'content-type': 'application/octet-stream' } })
    assert.equal(up.statusCode, 201, up.body)
    file = up.json().cid
  })
  after(async () => { await h.close() })

  test('raw block by Accept and by ?format=raw, with the spec\'s headers', async () => {
    for (const req of [{ url: `/ipfs/${leaf}`, headers: { accept: RAW } }, { url: `/ipfs/${leaf}?format=raw` }]) {
      const res = await h.app.inject(req)
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.headers['content-type'], RAW)
      assert.equal(res.headers['cache-control'], 'public, max-age=29030400, immutable')
      assert.equal(res.headers['x-ipfs-roots'], leaf)
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.headers.etag, `"${leaf}.raw"`)
      assert.equal(Number(res.headers['content-length']), res.rawPayload.byteLength)
      assert.match(String(res.headers['content-disposition']), /^attachment; filename="[^"]+\.bin"$/)
      const digest = createHash('sha256').update(res.rawPayload).digest()
      assert.deepEqual(new Uint8Array(digest), CID.parse(leaf).multihash.digest)
    }
    const viaAccept = await h.app.inject({ url: `/ipfs/${leaf}`, headers: { accept: RAW } })
    assert.equal(viaAccept.headers['content-location'], `/ipfs/${leaf}?format=raw`)
    const cached = await h.app.inject({ url: `/ipfs/${leaf}?format=raw`, headers: { 'if-none-match': `"${leaf}.raw"` } })
    assert.equal(cached.statusCode, 304)
    const head = await h.app.inject({ method: 'HEAD', url: `/ipfs/${leaf}?format=raw` })
    assert.equal(head.statusCode, 200)
    assert.equal(head.rawPayload.byteLength, 0)
    assert.equal(head.headers['content-type'], RAW)
  })

  test('CAR: dag-scope all, block, entity; order=dfs, dups=n; deterministic', async () => {
    const all = await h.app.inject({ url: `/ipfs/${commit}?format=car` })
    assert.equal(all.statusCode, 200)
    assert.equal(all.headers['content-type'], `${CAR}; version=1; order=dfs; dups=n`)
    const car = await readCar(all.rawPayload)
    assert.deepEqual(car.roots, [commit])
    assert.equal(car.blocks[0], commit)
    assert.ok(car.blocks.includes(leaf) && car.blocks.includes(parent))
    assert.equal(new Set(car.blocks).size, car.blocks.length)
    const again = await h.app.inject({ url: `/ipfs/${commit}`, headers: { accept: `${CAR}; version=1; order=dfs; dups=n` } })
    assert.deepEqual(again.rawPayload, all.rawPayload)
    assert.equal(again.headers.etag, all.headers.etag)

    const block = await readCar((await h.app.inject({ url: `/ipfs/${commit}?format=car&dag-scope=block` })).rawPayload)
    assert.deepEqual(block.blocks, [commit])
    const entity = await readCar((await h.app.inject({ url: `/ipfs/${parent}?format=car&dag-scope=entity` })).rawPayload)
    assert.deepEqual(entity.blocks, [parent])
    const fileEntity = await readCar((await h.app.inject({ url: `/ipfs/${file}?format=car&dag-scope=entity` })).rawPayload)
    assert.ok(fileEntity.blocks.length >= 4, 'a file entity is all of its blocks')
    const firstBytes = await readCar((await h.app.inject({ url: `/ipfs/${file}?format=car&entity-bytes=0:10` })).rawPayload)
    assert.deepEqual(firstBytes.blocks, fileEntity.blocks.slice(0, 2), 'only the root and the first chunk')
    const lastBytes = await readCar((await h.app.inject({ url: `/ipfs/${file}?format=car&entity-bytes=-10:*` })).rawPayload)
    assert.deepEqual(lastBytes.blocks, [fileEntity.blocks[0], fileEntity.blocks.at(-1)])
    assert.notEqual((await h.app.inject({ url: `/ipfs/${file}?format=car&dag-scope=block` })).headers.etag, all.headers.etag)
  })

  test('CAR with an IPLD path: the path\'s blocks first, then the target', async () => {
    const res = await h.app.inject({ url: `/ipfs/${parent}/links/0/cid?format=car` })
    assert.equal(res.statusCode, 200, res.body)
    const car = await readCar(res.rawPayload)
    assert.deepEqual(car.blocks, [parent, leaf])
    assert.equal(res.headers['x-ipfs-roots'], `${parent},${leaf}`)
    const missing = await h.app.inject({ url: `/ipfs/${parent}/nope?format=car` })
    assert.equal(missing.statusCode, 404)
    const rawPath = await h.app.inject({ url: `/ipfs/${parent}/links?format=raw` })
    assert.equal(rawPath.statusCode, 400)
  })

  test('identity probe bafkqaaa', async () => {
    const raw = await h.app.inject({ url: '/ipfs/bafkqaaa?format=raw' })
    assert.equal(raw.statusCode, 200)
    assert.equal(raw.rawPayload.byteLength, 0)
    const car = await h.app.inject({ url: '/ipfs/bafkqaaa?format=car' })
    assert.equal(car.statusCode, 200)
    const parsed = await readCar(car.rawPayload)
    assert.deepEqual(parsed, { roots: ['bafkqaaa'], blocks: [] })
    assert.equal((await h.app.inject({ method: 'HEAD', url: '/ipfs/bafkqaaa', headers: { accept: RAW } })).statusCode, 200)
  })

  test('errors: 404 missing, 400 bad CID or no format, 406 unsupported, 412 only-if-cached', async () => {
    const missing = await h.app.inject({ url: `/ipfs/${MISSING}?format=raw` })
    assert.equal(missing.statusCode, 404)
    assert.equal(errorBody(missing).code, 'ERR_BLOCK_NOT_FOUND')
    assert.equal((await h.app.inject({ method: 'HEAD', url: `/ipfs/${MISSING}?format=car` })).statusCode, 404)
    assert.equal((await h.app.inject({ url: `/ipfs/${MISSING}?format=car` })).statusCode, 404)
    const onlyCached = await h.app.inject({ url: `/ipfs/${MISSING}?format=raw`, headers: { 'cache-control': 'only-if-cached' } })
    assert.equal(onlyCached.statusCode, 412)
    const bad = await h.app.inject({ url: '/ipfs/not-a-cid?format=raw' })
    assert.equal(bad.statusCode, 400)
    assert.equal(errorBody(bad).code, 'ERR_CID_INVALID')
    const noAccept = await h.app.inject({ url: `/ipfs/${leaf}` })
    assert.equal(noAccept.statusCode, 400)
    for (const req of [
      { url: `/ipfs/${leaf}?format=dag-json` },
      { url: `/ipfs/${leaf}`, headers: { accept: 'text/html' } },
      { url: `/ipfs/${leaf}`, headers: { accept: `${CAR}; version=2` } },
      { url: `/ipfs/${leaf}`, headers: { accept: `${CAR}; dups=y` } },
      { url: `/ipfs/${leaf}?format=car&car-dups=y` }
    ]) {
      const res = await h.app.inject(req)
      assert.equal(res.statusCode, 406, JSON.stringify(req))
      assert.equal(errorBody(res).code, 'ERR_NOT_ACCEPTABLE')
    }
    const fallback = await h.app.inject({ url: `/ipfs/${leaf}`, headers: { accept: `${CAR}; dups=y, ${CAR}; dups=n; q=0.5` } })
    assert.equal(fallback.statusCode, 200)
    assert.equal((await h.app.inject({ url: `/ipfs/${leaf}?format=zip` })).statusCode, 400)
    assert.equal((await h.app.inject({ url: `/ipfs/${leaf}?format=car&dag-scope=most` })).statusCode, 400)
    assert.equal((await h.app.inject({ url: `/ipfs/${leaf}?format=car&entity-bytes=a:b` })).statusCode, 400)
    assert.equal((await h.app.inject({ method: 'POST', url: `/ipfs/${leaf}` })).statusCode, 405)
  })

  test('attachments: download with media type and Range', async () => {
    const up = await h.authed({ method: 'POST', url: '/api/v1/attachments?name=note.txt', payload: 'hello, framehub', headers: { 'content-type': 'text/plain' } })
    assert.equal(up.statusCode, 201)
    const rec = up.json() as { cid: string, size: number, type: string, link: { '/': string } }
    assert.equal(rec.type, 'text/plain')
    assert.equal(rec.size, 15)
    assert.deepEqual(rec.link, { '/': rec.cid })
    const full = await h.app.inject({ url: `/api/v1/attachments/${rec.cid}` })
    assert.equal(full.statusCode, 200)
    assert.equal(full.body, 'hello, framehub')
    assert.match(String(full.headers['content-type']), /^text\/plain/)
    assert.equal(full.headers['accept-ranges'], 'bytes')
    const part = await h.app.inject({ url: `/api/v1/attachments/${rec.cid}`, headers: { range: 'bytes=7-' } })
    assert.equal(part.statusCode, 206)
    assert.equal(part.body, 'framehub')
    assert.equal(part.headers['content-range'], 'bytes 7-14/15')
    const suffix = await h.app.inject({ url: `/api/v1/attachments/${rec.cid}`, headers: { range: 'bytes=-3' } })
    assert.equal(suffix.body, 'hub')
    const bad = await h.app.inject({ url: `/api/v1/attachments/${rec.cid}`, headers: { range: 'bytes=100-200' } })
    assert.equal(bad.statusCode, 416)
    assert.equal(bad.headers['content-range'], 'bytes */15')

    const big = await h.app.inject({ url: `/api/v1/attachments/${file}`, headers: { range: 'bytes=300000-300009' } })
    assert.equal(big.statusCode, 206)
    assert.deepEqual([...big.rawPayload], Array.from({ length: 10 }, (_, i) => (300000 + i) % 251))
    const guessed = await h.authed({ method: 'POST', url: '/api/v1/attachments?name=pic.png', payload: Buffer.from([1, 2, 3]), headers: { 'content-type': 'application/octet-stream' } })
    assert.equal(guessed.json().type, 'image/png')

    assert.equal((await h.app.inject({ method: 'POST', url: '/api/v1/attachments', payload: 'x', headers: { 'content-type': 'text/plain' } })).statusCode, 401)
    const tooBig = await h.authed({ method: 'POST', url: '/api/v1/attachments', payload: Buffer.alloc(5 * 1024 * 1024), headers: { 'content-type': 'application/octet-stream' } })
    assert.equal(tooBig.statusCode, 413)
    assert.equal(errorBody(tooBig).code, 'ERR_PAYLOAD_TOO_LARGE')
    const badName = await h.authed({ method: 'POST', url: '/api/v1/attachments?name=../../etc/passwd', payload: 'x', headers: { 'content-type': 'text/plain' } })
    assert.equal(badName.statusCode, 400)
    const notFile = await h.app.inject({ url: `/api/v1/attachments/${leaf}` })
    assert.equal(notFile.statusCode, 406)
    assert.equal((await h.app.inject({ url: `/api/v1/attachments/${MISSING}` })).statusCode, 404)
    assert.equal((await h.app.inject({ url: '/api/v1/attachments/xyz' })).statusCode, 400)
  })
})
