/**
 * NDJSON bytes (a file, standard input, a request body) cut into runs of whole lines for an
 * import, without making a string of them: a run goes as it is to the thread that encodes it
 * (`encodeFrameBytes` in `frame-lines.ts`, on a worker thread for a big import), which decodes
 * and splits it, and hands its buffer back (`runBuffers`). Line breaks are LF, CRLF or a lone
 * CR, as `readline` and `ndjsonLines` split.
 */
import { MAX_JSON_TEXT_BYTES } from './json-view.ts'
import { BufferPool } from './buffer-pool.ts'
import { PayloadTooLargeError } from './errors.ts'

export interface NdjsonRun {
  /** Whole lines, in a buffer of their own (it can be transferred to another thread). */
  bytes: Uint8Array<ArrayBuffer>
  /** Lines in `bytes`, as `ndjsonLines` splits them. */
  lines: number
}

export interface NdjsonRunOptions {
  /** A run ends at the last line break once this many bytes are read. */
  runBytes: number
  /** Where the input comes from, for errors (`source:line`). */
  source: string
  signal?: AbortSignal
}

/**
 * Longest line held while looking for its end: twice the JSON text of one frame, so a line over
 * the frame limit still reaches the encoder, which refuses it with its line number as `frame put`
 * would; a longer one is refused here, at its line, without reading it all.
 */
export const MAX_NDJSON_LINE_BYTES = 2 * MAX_JSON_TEXT_BYTES

const LF = 10
const CR = 13

/** Line breaks in `bytes` (LF, CRLF counted once, lone CR). */
function lineBreaks (bytes: Buffer): number {
  let n = 0
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) n++
  for (let i = bytes.indexOf(CR); i !== -1; i = bytes.indexOf(CR, i + 1)) if (bytes[i + 1] !== LF) n++
  return n
}

/** Lines of `bytes` as `ndjsonLines` splits them: a line break at the end starts no line. */
export function countLines (bytes: Uint8Array): number {
  if (bytes.byteLength === 0) return 0
  const last = bytes[bytes.byteLength - 1]
  return lineBreaks(asBuffer(bytes)) + (last === LF || last === CR ? 0 : 1)
}

function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * Where a run may end in `chunk`: after its last LF or lone CR; -1 if nowhere. A CR last in the
 * chunk may start a CRLF, so it is no place to cut.
 */
function lastBreak (chunk: Buffer): number {
  const lf = chunk.lastIndexOf(LF)
  const cr = chunk.byteLength >= 2 ? chunk.lastIndexOf(CR, chunk.byteLength - 2) : -1
  // A CR after the last LF, and not last, is followed by something else: a lone CR.
  return Math.max(lf, cr) === -1 ? -1 : Math.max(lf, cr) + 1
}

/** Reads up to `length` bytes into `into` at `offset`; 0 at the end (a file handle's `read`, for one). */
export type NdjsonRead = (into: Uint8Array, offset: number, length: number) => Promise<number>

/**
 * Buffers that runs are read into, handed back once a run's lines are decoded (`BufferPool`): an
 * import's threads share them. Runs are read into buffers of `runBytes + RUN_READ_BYTES` (640 KiB
 * for a file import); the pool keeps up to 8 of a size, none over 1 MiB (the bigger ones a line
 * longer than a run needs), so a process keeps at most a few MiB of them.
 */
export const runBuffers = new BufferPool(8, 1024 * 1024)

/** Bytes read at a time (from a `NdjsonRead`, or of a bigger chunk) before looking for a run's end. */
export const RUN_READ_BYTES = 128 * 1024

/**
 * The runs of NDJSON bytes: about `runBytes` each, cut after a line break, each in a buffer of
 * its own (from `runBuffers`; a run's receiver may hand it back). The bytes come as chunks (each
 * copied at once, so a source may reuse its chunk) or are read straight into the runs' buffers
 * (`NdjsonRead`: no copy). A line longer than MAX_NDJSON_LINE_BYTES is `ERR_PAYLOAD_TOO_LARGE`
 * with its line number.
 */
export async function * ndjsonRuns (source: AsyncIterable<Uint8Array> | NdjsonRead, options: NdjsonRunOptions): AsyncGenerator<NdjsonRun> {
  const standard = options.runBytes + RUN_READ_BYTES
  let buf = runBuffers.take(standard)
  let size = 0
  /** Bytes of `buf` up to its last line break; -1 if it has none. */
  let cut = -1
  let line = 1
  /** Room for `n` more bytes: a line longer than the buffer moves to a bigger one. */
  const reserve = (n: number): void => {
    if (size + n <= buf.byteLength) return
    const bigger = runBuffers.take(Math.max(size + n, 2 * buf.byteLength))
    bigger.set(buf.subarray(0, size))
    runBuffers.give(buf.buffer)
    buf = bigger
  }
  /** Takes note of `n` bytes just put at `size`; the run ready, if one is. */
  const added = (n: number): NdjsonRun | undefined => {
    const end = lastBreak(Buffer.from(buf.buffer, buf.byteOffset + size, n))
    if (end !== -1) cut = size + end
    size += n
    if (cut !== -1 && size >= options.runBytes) {
      // The bytes after the run's end start the next one, in a buffer of its own.
      const next = runBuffers.take(Math.max(standard, size - cut + RUN_READ_BYTES))
      next.set(buf.subarray(cut, size))
      const bytes = new Uint8Array(buf.buffer, 0, cut)
      size -= cut
      cut = -1
      buf = next
      const lines = lineBreaks(asBuffer(bytes))
      line += lines
      return { bytes, lines }
    }
    if (cut === -1 && size > MAX_NDJSON_LINE_BYTES) {
      const at = `${options.source}:${line}`
      throw new PayloadTooLargeError(`${at}: the line is longer than the limit of ${MAX_JSON_TEXT_BYTES} bytes of JSON for one frame`, { source: at, line, limit: MAX_JSON_TEXT_BYTES })
    }
    return undefined
  }
  try {
    if (typeof source === 'function') {
      for (;;) {
        options.signal?.throwIfAborted()
        reserve(RUN_READ_BYTES)
        const n = await source(buf, size, Math.min(RUN_READ_BYTES, buf.byteLength - size))
        if (n === 0) break
        const run = added(n)
        if (run !== undefined) yield run
      }
    } else {
      for await (const chunk of source) {
        options.signal?.throwIfAborted()
        for (let at = 0; at < chunk.byteLength;) {
          const n = Math.min(chunk.byteLength - at, RUN_READ_BYTES)
          reserve(n)
          buf.set(chunk.subarray(at, at + n), size)
          at += n
          const run = added(n)
          if (run !== undefined) yield run
        }
      }
    }
    options.signal?.throwIfAborted()
    if (size > 0) {
      const bytes = new Uint8Array(buf.buffer, 0, size)
      size = 0
      yield { bytes, lines: countLines(bytes) }
    } else {
      runBuffers.give(buf.buffer)
    }
  } catch (err) {
    runBuffers.give(buf.buffer)
    throw err
  }
}
