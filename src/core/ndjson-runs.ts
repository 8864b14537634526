/**
 * NDJSON bytes (a file, standard input, a request body) cut into runs of whole lines for an
 * import, without making a string of them: a run goes as it is to the thread that encodes it
 * (`encodeFrameBytes` in `frame-lines.ts`, on a worker thread for a big import), which decodes
 * and splits it. Line breaks are LF, CRLF or a lone CR, as `readline` and `ndjsonLines` split.
 */
import { MAX_JSON_TEXT_BYTES } from './json-view.ts'
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

/**
 * The runs of `chunks`: about `runBytes` each, cut after a line break. A line longer than
 * MAX_NDJSON_LINE_BYTES is `ERR_PAYLOAD_TOO_LARGE` with its line number. Each byte is copied
 * once (into its run's buffer), and the bytes after a run's end once more.
 */
export async function * ndjsonRuns (chunks: AsyncIterable<Uint8Array>, options: NdjsonRunOptions): AsyncGenerator<NdjsonRun> {
  let pending: Uint8Array[] = []
  let size = 0
  /** Bytes of `pending` up to its last line break; -1 if it has none. */
  let cut = -1
  let line = 1
  /** The pending bytes in one buffer of their own; `pending` is emptied. */
  const take = (): Uint8Array<ArrayBuffer> => {
    const out = new Uint8Array(size)
    let at = 0
    for (const chunk of pending) {
      out.set(chunk, at)
      at += chunk.byteLength
    }
    pending = []
    size = 0
    return out
  }
  for await (const chunk of chunks) {
    options.signal?.throwIfAborted()
    if (chunk.byteLength === 0) continue
    const end = lastBreak(asBuffer(chunk))
    if (end !== -1) cut = size + end
    pending.push(chunk)
    size += chunk.byteLength
    if (cut !== -1 && size >= options.runBytes) {
      const all = take()
      if (cut < all.byteLength) {
        pending.push(all.slice(cut))
        size = all.byteLength - cut
      }
      const bytes = new Uint8Array(all.buffer, 0, cut)
      cut = -1
      const lines = lineBreaks(asBuffer(bytes))
      line += lines
      yield { bytes, lines }
    }
    if (cut === -1 && size > MAX_NDJSON_LINE_BYTES) {
      const at = `${options.source}:${line}`
      throw new PayloadTooLargeError(`${at}: the line is longer than the limit of ${MAX_JSON_TEXT_BYTES} bytes of JSON for one frame`, { source: at, line, limit: MAX_JSON_TEXT_BYTES })
    }
  }
  options.signal?.throwIfAborted()
  if (size > 0) {
    const bytes = take()
    yield { bytes, lines: countLines(bytes) }
  }
}
