import { Readable } from 'node:stream'

/**
 * A byte stream for a reply, whose first chunk has already been read: reading it is where a
 * stored block is first hash-checked, so a corrupt or missing block at the start is a JSON error
 * (`ERR_BLOCK_CORRUPT`, ...) before the status line goes out. A failure further on can only cut
 * the response short (the error handler destroys the connection), never send wrong bytes.
 */
export async function primedStream (source: AsyncIterable<Uint8Array>): Promise<Readable> {
  const rest = source[Symbol.asyncIterator]()
  const first = await rest.next()
  return Readable.from(chunks(first, rest), { objectMode: false })
}

async function * chunks (first: IteratorResult<Uint8Array>, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Buffer> {
  try {
    for (let next = first; next.done !== true; next = await rest.next()) {
      const chunk = next.value
      yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    }
  } finally {
    await rest.return?.()
  }
}
