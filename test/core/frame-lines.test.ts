import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_BLOCK_BYTES } from '../../src/core/block.ts'
import { encodeFrame, frameFromJson } from '../../src/core/frame.ts'
import { encodeFrameLines, frameBytesAt, frameCidAt, frameKeyText, FRAME_CID_BYTES } from '../../src/core/frame-lines.ts'
import { SHA256_BLOCK_KEY_BYTES, blockKeyOf } from '../../src/core/block-key.ts'

const line = (i: number, body: unknown = `body ${i} ${'é'.repeat(i % 7)}`): string => JSON.stringify({ id: `t-${i % 5}/f-${i}`, kind: 'note', title: `T${i}`, body, tags: ['b', 'a', 'b'] })

/** What `frame put` makes of a line: its block and CID. */
function single (text: string): { bytes: Uint8Array, cid: string, key: string } {
  const block = encodeFrame(frameFromJson(JSON.parse(text)))
  return { bytes: new Uint8Array(block.bytes), cid: block.cid.toString(), key: blockKeyOf(block.cid.multihash.bytes) }
}

describe('encodeFrameLines', () => {
  it('packs each frame\'s block, CID and key as frame put makes them, in the buffer handed in or in one it outgrows it for', () => {
    const lines = Array.from({ length: 300 }, (_, i) => line(i, i % 50 === 0 ? { nested: [i, 'x', { y: null }] } : undefined))
    for (const into of [new Uint8Array(1 << 20), new Uint8Array(100), undefined]) {
      const run = encodeFrameLines(lines, 1, 'test', into)
      assert.equal(run.ids.length, lines.length)
      assert.equal(run.cids.byteLength, lines.length * FRAME_CID_BYTES)
      if (into !== undefined) assert.equal(run.bytes.buffer === into.buffer, into.byteLength >= run.bytes.byteLength)
      const keys = frameKeyText(run)
      for (const [i, text] of lines.entries()) {
        const want = single(text)
        assert.deepEqual(new Uint8Array(frameBytesAt(run, i)), want.bytes, `frame ${i}`)
        assert.equal(frameCidAt(run, i).toString(), want.cid)
        assert.equal(keys.slice(i * SHA256_BLOCK_KEY_BYTES, (i + 1) * SHA256_BLOCK_KEY_BYTES), want.key)
      }
    }
  })

  it('a frame whose block is over the block limit fails its line; the frames before it are whole', () => {
    const big = JSON.stringify({ id: 'big', kind: 'note', body: 'x'.repeat(MAX_BLOCK_BYTES) })
    const lines = [line(1), line(2), big, line(3)]
    const run = encodeFrameLines(lines, 10, 'big.ndjson', new Uint8Array(4096))
    assert.equal((run.failure as Error & { code?: string }).code, 'ERR_PAYLOAD_TOO_LARGE')
    assert.match((run.failure as Error).message, /^big\.ndjson:12: frame big is \d+ bytes encoded/)
    assert.deepEqual(run.ids, ['t-1/f-1', 't-2/f-2'])
    assert.equal(run.ends.length, 2)
    assert.equal(run.bytes.byteLength, run.ends[1])
    for (const i of [0, 1]) assert.deepEqual(new Uint8Array(frameBytesAt(run, i)), single(lines[i] as string).bytes)
  })
})
