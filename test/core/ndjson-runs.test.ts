import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ndjsonLines, ndjsonLinesOfBytes } from '../../src/core/frame-lines.ts'
import { BufferPool } from '../../src/core/buffer-pool.ts'
import { countLines, MAX_NDJSON_LINE_BYTES, ndjsonRuns } from '../../src/core/ndjson-runs.ts'

/** A seeded text of short lines with LF, CRLF and lone CR ends, empty lines, and multi-byte characters. */
function text (seed: number, lines: number): string {
  let x = seed
  const next = (n: number): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x % n }
  let out = ''
  for (let i = 0; i < lines; i++) {
    out += next(5) === 0 ? '' : `{"n":${i},"s":"${'aé数😀'.repeat(next(4))}"}`
    out += ['\n', '\r\n', '\r'][next(3)] as string
  }
  return next(2) === 0 ? out : out + '{"last":true}'
}

async function * cut (bytes: Buffer, seed: number): AsyncGenerator<Uint8Array> {
  let x = seed
  for (let at = 0; at < bytes.length;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    const n = 1 + (x % 300)
    yield bytes.subarray(at, at + n)
    at += n
  }
}

describe('NDJSON runs', () => {
  it('countLines counts the lines ndjsonLines splits', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const t = text(seed, 40)
      assert.equal(countLines(Buffer.from(t)), ndjsonLines(t).length, JSON.stringify(t))
    }
    assert.equal(countLines(Buffer.from('')), 0)
    assert.equal(countLines(Buffer.from('a\r')), 1)
    assert.equal(countLines(Buffer.from('a\r\nb')), 2)
    assert.equal(countLines(Buffer.from('\r\r\n\n')), 3)
  })

  it('cuts bytes, however they arrive, into runs of whole lines that together give the lines of the whole', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const t = text(seed, 300)
      const bytes = Buffer.from(t)
      const lines: string[] = []
      const parts: Buffer[] = []
      let counted = 0
      for await (const run of ndjsonRuns(cut(bytes, seed), { runBytes: 200, source: 's' })) {
        const runText = Buffer.from(run.bytes).toString('utf8')
        assert.equal(run.lines, ndjsonLines(runText).length)
        assert.equal(run.bytes.byteOffset, 0)
        counted += run.lines
        lines.push(...ndjsonLines(runText))
        parts.push(Buffer.from(run.bytes))
      }
      assert.deepEqual(Buffer.concat(parts), bytes)
      assert.deepEqual(lines, ndjsonLines(t))
      assert.equal(counted, ndjsonLines(t).length)
    }
  })

  it('reads bytes straight into the runs (a reader, as of a file), giving the runs chunks give', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const bytes = Buffer.from(text(seed, 300))
      const fromChunks: Buffer[] = []
      for await (const run of ndjsonRuns(cut(bytes, seed), { runBytes: 200, source: 's' })) fromChunks.push(Buffer.from(run.bytes))
      let at = 0
      const read = async (into: Uint8Array, offset: number, length: number): Promise<number> => {
        const n = Math.min(length, bytes.length - at, 1 + ((at * 31 + seed) % 97))
        into.set(bytes.subarray(at, at + n), offset)
        at += n
        return n
      }
      const parts: Buffer[] = []
      let lines = 0
      for await (const run of ndjsonRuns(read, { runBytes: 200, source: 's' })) {
        assert.equal(run.bytes.byteOffset, 0)
        lines += run.lines
        parts.push(Buffer.from(run.bytes))
      }
      assert.deepEqual(Buffer.concat(parts), bytes)
      assert.equal(lines, ndjsonLines(bytes.toString()).length)
    }
  })

  it('a source may reuse its chunk: each is copied before the next is asked for', async () => {
    const bytes = Buffer.from(text(7, 500))
    const reused = Buffer.alloc(333)
    const source = async function * (): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < bytes.length; at += reused.length) {
        const n = bytes.copy(reused, 0, at, at + reused.length)
        yield reused.subarray(0, n)
      }
    }
    const parts: Buffer[] = []
    for await (const run of ndjsonRuns(source(), { runBytes: 1000, source: 's' })) parts.push(Buffer.from(run.bytes))
    assert.deepEqual(Buffer.concat(parts), bytes)
  })

  it('a buffer pool gives back buffers of the size asked, keeps the last ones handed back, never one twice, none detached or too big', () => {
    const pool = new BufferPool(2, 1024)
    const a = pool.take(100)
    assert.equal(a.byteLength, 100)
    pool.give(a.buffer)
    pool.give(a.buffer)
    assert.equal(pool.size, 1)
    assert.equal(pool.take(100).buffer, a.buffer)
    assert.equal(pool.size, 0)
    assert.notEqual(pool.take(100).buffer, a.buffer)
    pool.give(new ArrayBuffer(2048))
    const moved = new ArrayBuffer(64)
    structuredClone(moved, { transfer: [moved] })
    pool.give(moved)
    assert.equal(pool.size, 0)
    const [x, y, z] = [new ArrayBuffer(10), new ArrayBuffer(20), new ArrayBuffer(30)]
    pool.give(x)
    pool.give(y)
    pool.give(z)
    assert.equal(pool.size, 2)
    assert.notEqual(pool.take(10).buffer, x, 'the oldest went')
    assert.equal(pool.take(30).buffer, z)
  })

  it('decodes bytes in pieces into the lines of the whole text, whatever falls at a piece\'s end', () => {
    for (let seed = 1; seed <= 20; seed++) {
      // Over 32 KiB, so that pieces are cut: CRLF, lone CRs and multi-byte characters fall at their ends.
      const t = text(seed, 3000)
      assert.deepEqual(ndjsonLinesOfBytes(Buffer.from(t)), ndjsonLines(t), `seed ${seed}`)
    }
    // A line longer than a piece, lines after it, a CR right after a cut, a view into a bigger buffer.
    const long = `{"x":"${'数'.repeat(40_000)}"}`
    for (const t of [`${long}\n{"a":1}\n`, `a\n${long}\r\n\r{"b":2}`, `${'y'.repeat(32_767)}\n\r\rz`, '', '\n', 'no break']) {
      const inside = Buffer.from(`--${t}--`).subarray(2, 2 + Buffer.byteLength(t))
      assert.deepEqual(ndjsonLinesOfBytes(inside), ndjsonLines(t))
    }
  })

  it('refuses a line longer than it holds, with its line number, without reading to its end', async () => {
    let read = 0
    const input = async function * (): AsyncGenerator<Uint8Array> {
      yield Buffer.from('{"a":1}\n{"b":2}\r\n')
      const block = Buffer.alloc(1024 * 1024, 0x20)
      for (let i = 0; i < 64; i++) { read++; yield block }
    }
    await assert.rejects(async () => { for await (const _ of ndjsonRuns(input(), { runBytes: 4096, source: 'big.ndjson' })) { /* drain */ } }, (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_PAYLOAD_TOO_LARGE')
      assert.match(err.message, /^big\.ndjson:3: /)
      return true
    })
    assert.ok(read <= MAX_NDJSON_LINE_BYTES / (1024 * 1024) + 1)
  })
})
