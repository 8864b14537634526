import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { CID } from 'multiformats/cid'
import { linksOf } from '../../src/core/block.ts'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { blockKey } from '../../src/storage/level-db.ts'
import { errorBody, frame } from './helpers.ts'

const GARBAGE = Buffer.from('these are not the bytes you stored')

/**
 * Blocks corrupted on disk are never served: every read path (attachments, whole and Range, the
 * trustless gateway, snapshot export) answers ERR_BLOCK_CORRUPT. Not the shared harness: a corrupt
 * block in the node's own repository is a server fault (500), which the harness refuses.
 */
describe('a block corrupted on disk is refused on every read path', () => {
  let dir: string
  let node: FramehubNode
  let app: FastifyInstance
  let auth: { authorization: string }
  /** Writes wrong bytes under a block's key in LevelDB. */
  const corrupt = async (cid: CID | string): Promise<void> => {
    await node.repo.db.blocks.put(blockKey(typeof cid === 'string' ? CID.parse(cid) : cid), new Uint8Array(GARBAGE))
  }
  const upload = async (name: string, bytes: Uint8Array): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: `/api/v1/attachments?name=${name}`, payload: Buffer.from(bytes), headers: { ...auth, 'content-type': 'application/octet-stream' } })
    assert.equal(res.statusCode, 201, res.body)
    return res.json().cid
  }
  const assertCorrupt = (res: { statusCode: number, rawPayload: Buffer, json: () => unknown, body: string }, what: string): void => {
    assert.equal(res.statusCode, 500, `${what}: ${res.body}`)
    assert.equal(errorBody(res as never).code, 'ERR_BLOCK_CORRUPT', what)
    assert.equal(res.rawPayload.includes(GARBAGE.subarray(0, 16)), false, `${what}: the corrupt bytes are not sent`)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'framehub-integrity-'))
    node = await createNode({ repo: dir, create: true })
    app = await createGateway(node, { logger: false, underPressure: false, attachmentLimit: 4 * 1024 * 1024 })
    auth = { authorization: `Bearer ${node.repo.config.apiToken}` }
  })
  after(async () => {
    await app.close()
    await node.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('a one-block attachment: GET, Range and HEAD answer ERR_BLOCK_CORRUPT, and so does /ipfs', async () => {
    const cid = await upload('note.txt', new TextEncoder().encode('hello, integrity'))
    assert.equal((await app.inject({ url: `/api/v1/attachments/${cid}` })).body, 'hello, integrity')
    await corrupt(cid)
    assertCorrupt(await app.inject({ url: `/api/v1/attachments/${cid}` }), 'GET')
    assertCorrupt(await app.inject({ url: `/api/v1/attachments/${cid}`, headers: { range: 'bytes=0-3' } }), 'Range')
    assert.equal((await app.inject({ method: 'HEAD', url: `/api/v1/attachments/${cid}` })).statusCode, 500, 'HEAD')
    assertCorrupt(await app.inject({ url: `/ipfs/${cid}?format=raw` }), '/ipfs raw')
  })

  test('a multi-block attachment with a corrupt chunk: a Range on it is refused, a whole GET never completes', async () => {
    const bytes = new Uint8Array(2560 * 1024)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 253
    const root = CID.parse(await upload('data.bin', bytes))
    const leaves = linksOf(root, await node.repo.blocks.get(root))
    assert.equal(leaves.length, 3, 'three 1 MiB chunks')
    await corrupt(leaves[1] as CID)
    const MiB = 1024 * 1024

    // A range in the first chunk is still served; one in the corrupt chunk is refused before any byte.
    const good = await app.inject({ url: `/api/v1/attachments/${root}`, headers: { range: 'bytes=10-19' } })
    assert.equal(good.statusCode, 206)
    assert.deepEqual(new Uint8Array(good.rawPayload), bytes.subarray(10, 20))
    assertCorrupt(await app.inject({ url: `/api/v1/attachments/${root}`, headers: { range: `bytes=${MiB + 5}-${MiB + 100}` } }), 'Range in the corrupt chunk')
    // A range that starts in a good chunk: its bytes go out, then the response is cut short.
    await assert.rejects(app.inject({ url: `/api/v1/attachments/${root}`, headers: { range: `bytes=${MiB - 10}-${MiB + 10}` } }), { code: 'LIGHT_ECONNRESET' })

    // The whole file: the first chunk goes out, then the response is cut short (a client sees an error).
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address() as { port: number }
    const res = await fetch(`http://127.0.0.1:${address.port}/api/v1/attachments/${root}`)
    assert.equal(res.status, 200)
    await assert.rejects(res.arrayBuffer(), 'the body is never delivered complete')
  })

  test('snapshot export of a DAG with a corrupt block is ERR_BLOCK_CORRUPT, not a CAR', async () => {
    const put = await app.inject({ method: 'POST', url: '/api/v1/frames', payload: frame('integrity/a'), headers: auth })
    assert.equal(put.statusCode, 201, put.body)
    const commit = await app.inject({ method: 'POST', url: '/api/v1/commits', payload: { message: 'snap' }, headers: auth })
    assert.equal(commit.statusCode, 201, commit.body)
    await corrupt(put.json().cid)
    assertCorrupt(await app.inject({ url: '/api/v1/snapshots/main' }), 'snapshot export')
    const car = await app.inject({ url: `/ipfs/${commit.json().commit as string}?format=car` })
    assert.equal(car.rawPayload.includes(GARBAGE.subarray(0, 16)), false, '/ipfs CAR never carries the corrupt bytes')
  })
})
