import { open, rename, rm, stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CID } from 'multiformats/cid'
import { FileNotFoundError, FileWriteError } from '../core/errors.ts'

/** Global options every command gets. */
export interface GlobalOptions {
  repo?: string
  json?: boolean
}

/** Plain JSON for output: CIDs as strings, bytes as base64, nothing else changed. */
export function plain (value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  const cid = CID.asCID(value)
  if (cid != null) return cid.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  if (Array.isArray(value)) return value.map(plain)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v)
  return out
}

/** Prints `json` with --json, else the human text. */
export function emit (options: GlobalOptions, json: unknown, human: () => string): void {
  if (options.json === true) process.stdout.write(JSON.stringify(plain(json)) + '\n')
  else {
    const text = human()
    if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n')
  }
}

export function shortCid (cid: CID | string | null): string {
  if (cid == null) return '(none)'
  const s = cid.toString()
  return s.length > 16 ? `${s.slice(0, 8)}…${s.slice(-6)}` : s
}

/** An output file being written (`-o FILE`); see `openOutput`. */
export interface OutputFile {
  /** Writes `source` and puts the file in place; on any failure nothing is left at the path. */
  write (source: AsyncIterable<Uint8Array>): Promise<void>
  /** Drops what was opened (the command failed before writing). */
  abort (): Promise<void>
}

/** Why an output path cannot be written, in words; undefined for errors that are not the file system's. */
function fsReason (err: unknown): string | undefined {
  const e = err as { code?: unknown, syscall?: unknown }
  if (typeof e?.syscall !== 'string' || typeof e.code !== 'string') return undefined
  switch (e.code) {
    case 'ENOENT': return 'no such directory'
    case 'ENOTDIR': return 'a part of the path is not a directory'
    case 'EISDIR': return 'is a directory'
    case 'EACCES': case 'EPERM': return 'permission denied'
    case 'EROFS': return 'read-only file system'
    case 'ENOSPC': case 'EDQUOT': return 'no space left on the device'
    default: return `${e.code} (${e.syscall})`
  }
}

/** Opening fails: the path cannot be written at all (ERR_FILE_NOT_FOUND, exit 3, as for input files). */
const OPEN_FAILURES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ENAMETOOLONG', 'ELOOP'])

/** An output file system error as a one-line framehub error; other errors (the source's) as they are. */
function outputError (path: string, err: unknown): unknown {
  const why = fsReason(err)
  if (why === undefined) return err
  const code = (err as { code: string }).code
  const details = { path, errno: code }
  return OPEN_FAILURES.has(code)
    ? new FileNotFoundError(`cannot write ${path}: ${why}`, details)
    : new FileWriteError(`writing ${path} failed: ${why}`, details)
}

/**
 * Opens an output file for a command's `-o FILE` (`-` is standard output), before any work is
 * done: a path that cannot be written is a one-line ERR_FILE_NOT_FOUND (exit 3) at once, not an
 * internal error after the work. The file is written beside its target (`FILE.partial`) and
 * renamed when complete: a failed command never leaves half a file. A failure while writing
 * (disk full) is ERR_FILE_WRITE (exit 1).
 */
export async function openOutput (path: string): Promise<OutputFile> {
  if (path === '-') {
    return {
      write: async (source) => { await pipeline(Readable.from(source), process.stdout) },
      abort: async () => {}
    }
  }
  const tmp = `${path}.partial`
  let handle
  try {
    if ((await stat(path).catch(() => undefined))?.isDirectory() === true) throw Object.assign(new Error('is a directory'), { code: 'EISDIR', syscall: 'open' })
    handle = await open(tmp, 'w')
  } catch (err) {
    throw outputError(path, err)
  }
  const file = handle
  const discard = async (): Promise<void> => {
    await file.close().catch(() => {})
    await rm(tmp, { force: true })
  }
  return {
    async write (source) {
      try {
        await pipeline(Readable.from(source), file.createWriteStream())
        await rename(tmp, path)
      } catch (err) {
        await discard()
        throw outputError(path, err)
      }
    },
    abort: discard
  }
}
