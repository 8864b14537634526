import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { cidOf, encodeBlock, fromJsonView, toJsonView, verifyBlock } from '../../src/core/codec.ts'
import { decodeFrame, encodeFrame, frameFromJson } from '../../src/core/frame.ts'

const idSegment = fc.stringMatching(/^[^\s/]{1,12}$/)
const frameJson = fc.record({
  id: fc.array(idSegment, { minLength: 1, maxLength: 3 }).map(s => s.join('/')),
  kind: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/),
  title: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
  body: fc.option(fc.jsonValue({ maxDepth: 3 }).filter(v => !JSON.stringify(v).includes('"/"')), { nil: undefined }),
  tags: fc.option(fc.array(fc.stringMatching(/^\S{1,8}$/), { maxLength: 6 }), { nil: undefined })
}, { requiredKeys: ['id', 'kind'] }).map(f => JSON.parse(JSON.stringify(f)) as Record<string, unknown>)

describe('frame codec', () => {
  it('round-trips: JSON view → block → frame → same JSON (canonical) and same CID', () => {
    fc.assert(fc.property(frameJson, (json) => {
      const frame = frameFromJson(json)
      const block = encodeFrame(frame)
      verifyBlock(block.cid, block.bytes)
      const back = decodeFrame(block.cid, block.bytes)
      assert.deepEqual(toJsonView(back), toJsonView(frame))
      assert.ok(encodeFrame(frameFromJson(toJsonView(back))).cid.equals(block.cid))
    }), { numRuns: 300 })
  })

  it('content only: tag order and duplicates and key order do not change the CID', () => {
    fc.assert(fc.property(frameJson, fc.array(fc.stringMatching(/^\S{1,6}$/), { minLength: 1, maxLength: 5 }), (json, tags) => {
      const a = frameFromJson({ ...json, tags })
      const b = frameFromJson(Object.fromEntries(Object.entries({ ...json, tags: [...tags].reverse().concat(tags) }).reverse()))
      assert.ok(encodeFrame(a).cid.equals(encodeFrame(b).cid))
    }), { numRuns: 200 })
  })

  it('rejects anything else with ERR_FRAME_INVALID, never another error', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      try {
        frameFromJson(value)
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'ERR_FRAME_INVALID', String(err))
      }
    }), { numRuns: 500 })
    for (const bad of [null, [], 'x', { id: 'a' }, { id: '', kind: 'k' }, { id: 'a//b', kind: 'k' }, { id: '/a', kind: 'k' },
      { id: 'a', kind: 'k', tags: [''] }, { id: 'a', kind: 'k', extra: 1 }, { id: 'a', kind: 'k', links: [{ cid: 'bafy' }] },
      { id: 'a', kind: 'k', attachments: [{ name: 'x', cid: { '/': 'nope' }, size: 1, type: 'text/plain' }] }]) {
      assert.throws(() => frameFromJson(bad), { code: 'ERR_FRAME_INVALID' })
    }
  })

  it('decodeFrame rejects blocks that are not frames, and corrupt bytes', () => {
    const notFrame = encodeBlock({ hello: 'world' })
    assert.throws(() => decodeFrame(notFrame.cid, notFrame.bytes), { code: 'ERR_FRAME_INVALID' })
    const junk = new Uint8Array([0xff, 0x00, 0x13])
    assert.throws(() => decodeFrame(cidOf(junk), junk), { code: 'ERR_BLOCK_INVALID' })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeFrame(cidOf(bytes), bytes)
      } catch (err) {
        assert.match((err as { code?: string }).code ?? '', /^ERR_(FRAME|BLOCK)_INVALID$/)
      }
    }), { numRuns: 300 })
  })

  it('verifyBlock catches any changed byte', () => {
    const block = encodeFrame(frameFromJson({ id: 'a', kind: 'fact', body: 'x' }))
    fc.assert(fc.property(fc.nat(block.bytes.length - 1), fc.integer({ min: 1, max: 255 }), (i, delta) => {
      const copy = block.bytes.slice()
      copy[i] = ((copy[i] as number) + delta) & 0xff
      assert.throws(() => { verifyBlock(block.cid, copy) }, { code: 'ERR_BLOCK_CORRUPT' })
    }))
  })

  it('DAG-JSON links in the JSON view become real CID links', () => {
    const target = encodeBlock({ x: 1 }).cid
    const value = fromJsonView({ a: { '/': target.toString() }, b: [{ '/': { bytes: 'AQID' } }] }) as { a: CID, b: Uint8Array[] }
    assert.ok(CID.asCID(value.a)?.equals(target))
    assert.deepEqual(value.b[0], new Uint8Array([1, 2, 3]))
    assert.deepEqual(dagCbor.decode(dagCbor.encode(value)), value)
  })
})


it('cidOf lays out the same CID as CID.createV1', async () => {
  const { CID: C } = await import('multiformats/cid')
  const { sha256 } = await import('multiformats/hashes/sha2')
  for (const codec of [0x71, 0x55, 0x70, 0x0129]) {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const expected = C.createV1(codec, sha256.digest(bytes) as Awaited<ReturnType<typeof sha256.digest>>)
      const got = cidOf(bytes, codec)
      assert.ok(got.equals(expected))
      assert.equal(got.toString(), expected.toString())
      assert.deepEqual(new Uint8Array(got.multihash.digest), new Uint8Array(expected.multihash.digest))
      assert.deepEqual(new Uint8Array(got.bytes), new Uint8Array(expected.bytes))
    }), { numRuns: 100 })
  }
})

it('toJsonView agrees with the DAG-JSON codec', async () => {
  const dagJson = await import('@ipld/dag-json')
  const ipld = fc.letrec(tie => ({
    value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
      fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 1, maxLength: 20 }).map(b => cidOf(b)),
      fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string().filter(k => k !== '/'), tie('value'), { maxKeys: 4 }))
  })).value
  fc.assert(fc.property(ipld, (v) => {
    const expected = JSON.parse(new TextDecoder().decode(dagJson.encode(v)))
    assert.deepEqual(toJsonView(v), expected)
    assert.equal(JSON.stringify(toJsonView(v)), JSON.stringify(expected), 'same key order')
  }), { numRuns: 500 })
})
