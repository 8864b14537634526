import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { cidOf } from '../../src/core/cid.ts'
import { encodeBlock, MAX_BLOCK_BYTES, verifyBlock } from '../../src/core/block.ts'
import { asJsonView, fromJsonView, MAX_JSON_DEPTH, MAX_JSON_TEXT_BYTES, toJsonView } from '../../src/core/json-view.ts'
import { decodeFrame, encodeFrame, findFrame, frameFromJson, frameId } from '../../src/core/frame.ts'
import { buildTree } from '../../src/core/tree/index.ts'
import { traceStepInputFromJson } from '../../src/core/trace-step.ts'

const idSegment = fc.stringMatching(/^[^\s/\u0000-\u001f\u007f-\u009f]{1,12}$/)
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

describe('frame limits and ids (issue #10)', () => {
  /** A frame whose DAG-CBOR block is exactly `size` bytes (padding its body). */
  const frameOfSize = (size: number): Record<string, unknown> => {
    let pad = size - 100
    for (;;) {
      const json = { id: 'big/one', kind: 'fact', body: 'x'.repeat(pad) }
      const bytes = dagCbor.encode(json).byteLength
      if (bytes === size) return json
      pad += size - bytes
    }
  }

  it('a frame is at most MAX_BLOCK_BYTES encoded: one byte over is ERR_PAYLOAD_TOO_LARGE, the limit itself is stored', () => {
    assert.equal(MAX_BLOCK_BYTES, 1024 * 1024)
    const atLimit = encodeFrame(frameFromJson(frameOfSize(MAX_BLOCK_BYTES)))
    assert.equal(atLimit.bytes.byteLength, MAX_BLOCK_BYTES)
    assert.throws(() => encodeFrame(frameFromJson(frameOfSize(MAX_BLOCK_BYTES + 1)), { source: 'f.json' }),
      (err: { code?: string, message: string }) => err.code === 'ERR_PAYLOAD_TOO_LARGE' && /^f\.json: frame big\/one is 1048577 bytes/.test(err.message))
    // Every block framehub encodes has the same limit (trace steps, commits).
    assert.throws(() => encodeBlock({ blob: new Uint8Array(MAX_BLOCK_BYTES) }), { code: 'ERR_PAYLOAD_TOO_LARGE' })
  })

  it('the JSON text limit holds the compact JSON of any frame that fits a block (6 bytes of JSON per byte at worst)', () => {
    const falses = new Array<boolean>(MAX_BLOCK_BYTES - 64).fill(false)
    const worst = { id: 'w', kind: 'fact', body: falses }
    assert.ok(dagCbor.encode(worst).byteLength <= MAX_BLOCK_BYTES)
    assert.ok(Buffer.byteLength(JSON.stringify(worst)) <= MAX_JSON_TEXT_BYTES)
    const controls = { id: 'c', kind: 'fact', body: '\u0001'.repeat(MAX_BLOCK_BYTES - 64) }
    assert.ok(dagCbor.encode(controls).byteLength <= MAX_BLOCK_BYTES)
    assert.ok(Buffer.byteLength(JSON.stringify(controls)) <= MAX_JSON_TEXT_BYTES)
  })

  const nested = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels))

  it('nesting: 100k levels is ERR_FRAME_INVALID / ERR_TRACE_STEP_INVALID, not a stack overflow; the limit itself passes', () => {
    assert.throws(() => frameFromJson({ id: 'deep', kind: 'fact', body: nested(100_000) }),
      (err: { code?: string, message: string }) => err.code === 'ERR_FRAME_INVALID' && /deeper than 128 levels/.test(err.message))
    assert.throws(() => frameFromJson(asJsonView({ id: 'deep', kind: 'fact', body: nested(100_000) })), { code: 'ERR_FRAME_INVALID' })
    assert.throws(() => traceStepInputFromJson({ op: 'thought', content: nested(100_000) }), { code: 'ERR_TRACE_STEP_INVALID' })
    // The frame object is level 1: its body may nest 127 levels, not 128.
    assert.equal(MAX_JSON_DEPTH, 128)
    const ok = encodeFrame(frameFromJson({ id: 'deep', kind: 'fact', body: nested(MAX_JSON_DEPTH - 1) }))
    assert.ok(decodeFrame(ok.cid, ok.bytes))
    assert.throws(() => frameFromJson({ id: 'deep', kind: 'fact', body: nested(MAX_JSON_DEPTH) }), { code: 'ERR_FRAME_INVALID' })
    // A link counts as a level, both ways.
    let linkAtLimit: unknown = { '/': encodeBlock({ x: 1 }).cid.toString() }
    for (let i = 0; i < MAX_JSON_DEPTH - 2; i++) linkAtLimit = [linkAtLimit]
    const frame = frameFromJson({ id: 'l', kind: 'fact', body: linkAtLimit })
    assert.ok(encodeFrame(frameFromJson(toJsonView(frame))).cid.equals(encodeFrame(frame).cid))
    assert.throws(() => frameFromJson({ id: 'l', kind: 'fact', body: [linkAtLimit] }), { code: 'ERR_FRAME_INVALID' })
  })

  it('ids are stored in NFC: café typed as NFC or NFD is one frame, one CID', () => {
    const nfc = 'notes/caf\u00e9'
    const nfd = 'notes/cafe\u0301'
    const a = frameFromJson({ id: nfc, kind: 'fact' })
    const b = frameFromJson({ id: nfd, kind: 'fact' })
    assert.equal(b.id, nfc)
    assert.ok(encodeFrame(a).cid.equals(encodeFrame(b).cid))
    assert.equal(frameId(nfd), nfc)
  })

  it('ids with control characters (C0, DEL, C1) are ERR_FRAME_INVALID', () => {
    for (const c of ['\u0000', '\u0001', '\u001b', '\u007f', '\u0080', '\u0085', '\u009f']) {
      assert.throws(() => frameFromJson({ id: `a${c}b`, kind: 'fact' }), { code: 'ERR_FRAME_INVALID' }, JSON.stringify(c))
    }
    assert.equal(frameFromJson({ id: 'caf\u00e9/\u65e5\u672c', kind: 'fact' }).id, 'caf\u00e9/\u65e5\u672c', 'other Unicode stays allowed')
  })

  it('a block that is a commit, a tree node or file data is not a frame: ERR_FRAME_NOT_FOUND saying what it is', () => {
    const commit = encodeBlock({ tree: encodeBlock({ x: 1 }).cid, parents: [], author: 'me', time: 1, message: 'm', sig: new Uint8Array(1) })
    assert.throws(() => decodeFrame(commit.cid, commit.bytes),
      (err: { code?: string, message: string }) => err.code === 'ERR_FRAME_NOT_FOUND' && err.message === `${commit.cid} is a commit, not a frame; use \`framehub show ${commit.cid}\``)
    const raw = new Uint8Array([1, 2, 3])
    assert.throws(() => decodeFrame(cidOf(raw, 0x55), raw), (err: { code?: string, message: string }) => err.code === 'ERR_FRAME_NOT_FOUND' && /is a raw block/.test(err.message))
  })
})

it('findFrame: an id is looked up in NFC first, then as given (a frame stored before ids were normalised)', async () => {
  const nfcCid = encodeBlock({ n: 1 }).cid
  const oldCid = encodeBlock({ n: 2 }).cid
  const built = buildTree([{ key: 'new/caf\u00e9', value: nfcCid }, { key: 'old/cafe\u0301', value: oldCid }])
  const store = new Map(built.blocks.map(b => [b.cid.toString(), b.bytes]))
  const reader = { get: async (cid: CID): Promise<Uint8Array> => store.get(cid.toString()) as Uint8Array }
  assert.deepEqual(await findFrame(reader, built.root, 'new/cafe\u0301'), { id: 'new/caf\u00e9', cid: nfcCid })
  assert.deepEqual(await findFrame(reader, built.root, 'new/caf\u00e9'), { id: 'new/caf\u00e9', cid: nfcCid })
  assert.deepEqual(await findFrame(reader, built.root, 'old/cafe\u0301'), { id: 'old/cafe\u0301', cid: oldCid })
  assert.equal(await findFrame(reader, built.root, 'old/caf\u00e9'), undefined)
})
