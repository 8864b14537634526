import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { RepoDb, Sub } from './level-db.ts'

type Op = { type: 'put', sublevel: Sub, key: string, value: Uint8Array } | { type: 'del', sublevel: Sub, key: string }

/**
 * A write-ahead journal for small, frequent writes (trace appends). A write is appended to a log
 * file with one synchronous `write(2)` on the calling thread, which is as durable as LevelDB's own
 * default write (both leave the bytes to the OS) but skips the round trip through libuv's thread
 * pool that an awaited LevelDB batch costs (150–260 µs on the machines measured, more than the
 * rest of an append). Journaled writes reach LevelDB in batches shortly after, and a journal
 * left by a crash is replayed when the repository opens. Until then reads see them through
 * `block`/`state`.
 */
export interface Journal {
  /** Makes `ops` durable now (one synchronous write) and visible to journal-aware reads. */
  append (ops: readonly Op[]): void
  /** A block written to the journal and not yet to LevelDB. */
  block (key: string): Uint8Array | undefined
  /** A state key written (`Uint8Array`) or deleted (`null`) in the journal; `undefined` if untouched. */
  state (key: string): Uint8Array | null | undefined
  /** Writes everything journaled to LevelDB and drops the log files it came from. */
  flush (): Promise<void>
  /** Flushes and stops. */
  close (): Promise<void>
}

const MAGIC = 0x464a // "FJ"
const FLUSH_OPS = 2048
const FLUSH_DELAY_MS = 5

/** Record: u16 magic, u32 body length, u32 crc32(body), body = ops; op = u8 kind, u8 sublevel, u32 key length, key, u32 value length, value. */
function encodeRecord (ops: readonly Op[], subName: (s: Sub) => number): Buffer {
  let size = 0
  for (const op of ops) size += 2 + 4 + Buffer.byteLength(op.key) + 4 + (op.type === 'put' ? op.value.byteLength : 0)
  const body = Buffer.allocUnsafe(size)
  let o = 0
  for (const op of ops) {
    body[o++] = op.type === 'put' ? 1 : 2
    body[o++] = subName(op.sublevel)
    const klen = body.write(op.key, o + 4, 'utf8')
    body.writeUInt32BE(klen, o); o += 4 + klen
    const value = op.type === 'put' ? op.value : undefined
    body.writeUInt32BE(value?.byteLength ?? 0, o); o += 4
    if (value != null) { body.set(value, o); o += value.byteLength }
  }
  const head = Buffer.allocUnsafe(10)
  head.writeUInt16BE(MAGIC, 0)
  head.writeUInt32BE(o, 2)
  head.writeUInt32BE(crc32(body.subarray(0, o)), 6)
  return Buffer.concat([head, body.subarray(0, o)])
}

function * decodeRecords (file: Buffer, subs: Sub[]): Generator<Op[]> {
  let o = 0
  while (o + 10 <= file.length) {
    if (file.readUInt16BE(o) !== MAGIC) return
    const len = file.readUInt32BE(o + 2)
    const crc = file.readUInt32BE(o + 6)
    if (o + 10 + len > file.length) return // a torn last record: it was never acknowledged
    const body = file.subarray(o + 10, o + 10 + len)
    if (crc32(body) !== crc) return
    const ops: Op[] = []
    let p = 0
    while (p < body.length) {
      const kind = body[p++]
      const sublevel = subs[body[p++] as number]
      const klen = body.readUInt32BE(p); p += 4
      const key = body.toString('utf8', p, p + klen); p += klen
      const vlen = body.readUInt32BE(p); p += 4
      const value = new Uint8Array(body.subarray(p, p + vlen)); p += vlen
      if (sublevel == null) return
      ops.push(kind === 1 ? { type: 'put', sublevel, key, value } : { type: 'del', sublevel, key })
    }
    yield ops
    o += 10 + len
  }
}

const FILE = /^journal-(\d+)\.log$/

/** Opens the journal in `dir`, first replaying into LevelDB whatever an earlier process left. */
export async function openJournal (dir: string, db: RepoDb): Promise<Journal> {
  const subs = [db.blocks, db.state]
  const subName = (s: Sub): number => {
    const i = subs.indexOf(s)
    if (i < 0) throw new Error('the journal carries only block and state writes')
    return i
  }
  const leftovers = existsSync(dir) ? readdirSync(dir).filter(f => FILE.test(f)).sort((a, b) => Number(FILE.exec(a)?.[1]) - Number(FILE.exec(b)?.[1])) : []
  let generation = 0
  for (const f of leftovers) {
    for (const ops of decodeRecords(readFileSync(join(dir, f)), subs)) await db.db.batch(ops as never)
    generation = Math.max(generation, Number(FILE.exec(f)?.[1]) + 1)
  }
  for (const f of leftovers) unlinkSync(join(dir, f))

  const blocks = new Map<string, Uint8Array>()
  const state = new Map<string, Uint8Array | null>()
  let queued: Op[] = []
  let fd: number | undefined
  let file = ''
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()
  let closed = false

  const openLog = (): void => {
    file = join(dir, `journal-${generation++}.log`)
    fd = openSync(file, 'a', 0o600) // trace steps and state: the owner's only, like the repository
  }

  const flush = async (): Promise<void> => {
    if (timer != null) { clearTimeout(timer); timer = undefined }
    const run = flushing.then(async () => {
      if (queued.length === 0 || fd == null) return
      const ops = queued
      const oldFd = fd
      const oldFile = file
      queued = []
      openLog() // new appends go to a fresh file while this one is written out
      await db.db.batch(ops as never)
      // Visible in LevelDB now: forget them, unless a later journal write changed the same key.
      for (const op of ops) {
        if (op.sublevel === db.blocks) { if (blocks.get(op.key) === (op.type === 'put' ? op.value : undefined)) blocks.delete(op.key) } else {
          const cur = state.get(op.key)
          if (cur === (op.type === 'put' ? op.value : null)) state.delete(op.key)
        }
      }
      closeSync(oldFd)
      unlinkSync(oldFile)
    })
    flushing = run.catch(() => {})
    await run
  }

  return {
    append (ops) {
      if (closed) throw new Error('the journal is closed')
      if (fd == null) openLog()
      writeSync(fd as number, encodeRecord(ops, subName))
      for (const op of ops) {
        if (op.sublevel === db.blocks) { if (op.type === 'put') blocks.set(op.key, op.value) } else state.set(op.key, op.type === 'put' ? op.value : null)
        queued.push(op)
      }
      if (queued.length >= FLUSH_OPS) void flush().catch(() => {})
      else timer ??= setTimeout(() => { timer = undefined; void flush().catch(() => {}) }, FLUSH_DELAY_MS)
    },
    block: (key) => blocks.get(key),
    state: (key) => state.get(key),
    flush,
    async close () {
      await flush()
      closed = true
      if (fd != null) {
        fsyncSync(fd)
        closeSync(fd)
        unlinkSync(file)
        fd = undefined
      }
    }
  }
}
