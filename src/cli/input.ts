import { createReadStream } from 'node:fs'
import { open, readFile, stat } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { FileNotFoundError, PayloadTooLargeError } from '../core/errors.ts'
import type { NdjsonBytes, NdjsonReader } from '../services/frames.ts'

function missing (path: string, err: unknown): never {
  const code = (err as { code?: string }).code
  const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message
  throw new FileNotFoundError(`cannot read ${path}: ${why}`, { path })
}

function tooLarge (path: string, limit: number): never {
  throw new PayloadTooLargeError(`${path === '-' ? 'standard input' : path} is larger than the limit of ${limit} bytes`, { path, limit })
}

/** Reads a whole file, or standard input for `-`; past `limit` bytes, `ERR_PAYLOAD_TOO_LARGE` (without reading it all). */
export async function readInput (path: string, limit?: number): Promise<Uint8Array> {
  if (path === '-') {
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of process.stdin) {
      total += (chunk as Buffer).byteLength
      if (limit != null && total > limit) tooLarge(path, limit)
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks)
  }
  try {
    if (limit != null && (await stat(path)).size > limit) tooLarge(path, limit)
    return await readFile(path)
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_PAYLOAD_TOO_LARGE') throw err
    return missing(path, err)
  }
}

export async function readTextInput (path: string, limit?: number): Promise<string> {
  return new TextDecoder().decode(await readInput(path, limit))
}

/** Bytes a file is read in at a time (the default, 64 KiB, made a big import take 800 reads and events). */
const READ_BYTES = 1024 * 1024

/** A byte stream from a file or standard input, and its size when known. */
export async function openInput (path: string): Promise<{ stream: Readable, size?: number }> {
  if (path === '-') return { stream: process.stdin }
  try {
    const info = await stat(path)
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
    return { stream: createReadStream(path, { highWaterMark: READ_BYTES }), size: info.size }
  } catch (err) {
    return missing(path, err)
  }
}

/**
 * NDJSON for an import from a file or standard input, and its size when known. A file is read on
 * demand straight into the import's own buffers (`readNdjson`: no copy, no new buffer per read);
 * standard input comes as chunks. `onBytes` hears the bytes read so far; `close` closes the file.
 */
export async function openNdjsonInput (path: string, onBytes: (n: number) => void): Promise<{ input: NdjsonBytes | NdjsonReader, size?: number, close: () => Promise<void> }> {
  if (path === '-') return { input: { ndjson: readChunks(process.stdin, onBytes) }, close: async () => {} }
  let file: FileHandle | undefined
  try {
    file = await open(path)
    const info = await file.stat()
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
    const handle = file
    let read = 0
    const readNdjson = async (into: Uint8Array, offset: number, length: number): Promise<number> => {
      const { bytesRead } = await handle.read(into, offset, length, null)
      read += bytesRead
      onBytes(read)
      return bytesRead
    }
    return { input: { readNdjson }, size: info.size, close: async () => { await handle.close() } }
  } catch (err) {
    await file?.close()
    return missing(path, err)
  }
}

/** The bytes of a file or standard input as they are read, counting them for progress. */
export async function * readChunks (stream: Readable, onBytes?: (n: number) => void): AsyncGenerator<Uint8Array> {
  let read = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    read += chunk.byteLength
    onBytes?.(read)
    yield chunk
  }
}

export { Readable }
