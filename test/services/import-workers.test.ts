import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { after, afterEach, beforeEach, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { encodeFrame, frameFromJson } from '../../src/core/frame.ts'
import { encodedBuffers, encodeFrameLines, frameBytesAt, frameCidAt } from '../../src/core/frame-lines.ts'
import { MAX_NDJSON_LINE_BYTES, runBuffers } from '../../src/core/ndjson-runs.ts'
import { buildTree } from '../../src/core/tree/index.ts'
import { EMPTY_TREE } from '../../src/services/context.ts'
import { importPool, importPoolLeaves, importPoolReady, importPoolRuns, importPoolSize, startImportPool, stopImportPool } from '../../src/services/import-workers.ts'
import { idleCoresBetween } from '../../src/services/idle-cores.ts'
import { tempDir, tempNode } from '../helpers/repo.ts'

const defaults = { ...importPool }

/** Starts the pool and waits until its workers take work (they load their modules first). */
async function poolUp (): Promise<void> {
  // Started here, not by a run past the threshold: a test before may have found no core free,
  // and runs look again only after a while.
  startImportPool()
  while (importPoolReady() < importPool.workers) await new Promise(resolve => setTimeout(resolve, 20))
}

/** Lines of `count` frames of several shapes: links, bytes, numbers, unicode ids, blank lines. */
function frameLines (count: number): string[] {
  const lines: string[] = []
  for (let i = 0; i < count; i++) {
    if (i % 97 === 13) lines.push(i % 2 === 0 ? '' : '   ')
    const frame: Record<string, unknown> = { id: `t-${i % 7}/ü-${i}`, kind: ['fact', 'note'][i % 2], title: `frame ${i}`, tags: ['b', 'a', 'b'] }
    if (i % 3 === 0) frame.body = { n: i, f: i / 7, ok: i % 2 === 0, list: [1, 'x', null], bytes: { '/': { bytes: 'aGVsbG8' } } }
    else frame.body = `text ${i} 数据`
    lines.push(JSON.stringify(frame))
  }
  return lines
}

/** The tree and CIDs the single-frame path (`frameFromJson` + `encodeFrame`) gives for these lines. */
function expected (lines: string[]): { root: string, cids: Map<string, string> } {
  const cids = new Map<string, string>()
  for (const line of lines) {
    if (line.trim() === '') continue
    const frame = frameFromJson(JSON.parse(line))
    cids.set(frame.id, encodeFrame(frame).cid.toString())
  }
  const tree = buildTree([...cids].map(([key, value]) => ({ key, value: CID.parse(value) })))
  return { root: tree.root.toString(), cids }
}

/**
 * Runs `script` (an ES module) in a Node process of its own (a fresh pool, a recent start), with
 * `env` on top of this one's; its exit code, signal and output. Killed after 60 s.
 */
async function child (script: string, env: Record<string, string | undefined> = {}): Promise<{ code: number | null, signal: string | null, out: string, err: string }> {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env }
  for (const [key, value] of Object.entries(env)) if (value === undefined) Reflect.deleteProperty(merged, key)
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout.on('data', (c: Buffer) => { out += c.toString() })
  proc.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const killer = setTimeout(() => { proc.kill('SIGKILL') }, 60_000)
  const [code, signal] = await new Promise<[number | null, string | null]>(resolve => { proc.on('close', (c, sig) => { resolve([c, sig]) }) })
  clearTimeout(killer)
  return { code, signal, out, err }
}

describe('frame import on worker threads', () => {
  beforeEach(() => { Object.assign(importPool, defaults) })
  afterEach(async () => {
    Object.assign(importPool, defaults)
    await stopImportPool()
  })
  after(async () => { await stopImportPool() })

  it('encodeFrameLines gives the blocks and CIDs of frameFromJson + encodeFrame, blank lines skipped', () => {
    const lines = frameLines(300)
    const out = encodeFrameLines(lines, 1, 'x')
    assert.equal(out.failure, undefined)
    assert.equal(out.lines, lines.length)
    let i = 0
    for (const [n, line] of lines.entries()) {
      if (line.trim() === '') continue
      const block = encodeFrame(frameFromJson(JSON.parse(line)))
      assert.equal(frameCidAt(out, i).toString(), block.cid.toString())
      assert.deepEqual(frameBytesAt(out, i), block.bytes)
      assert.equal(out.lineNumbers[i], n + 1)
      i++
    }
    assert.equal(out.ids.length, i)
  })

  it('the same input gives the same CIDs and tree on worker threads as on the main thread', async () => {
    const lines = frameLines(5000)
    const want = expected(lines)
    const trees: string[] = []
    for (const workers of [0, 2]) {
      // `queued`: every run goes to a worker once one is up, none is encoded here meanwhile.
      Object.assign(importPool, { workers, maxLoad: Infinity, threshold: 0, chunkLines: 128, queued: Infinity })
      if (workers > 0) await poolUp()
      const { node, cleanup } = await tempNode()
      try {
        const before = importPoolRuns()
        const result = await node.frames.import(lines, { source: 'in.ndjson' })
        assert.equal(result.frames, want.cids.size)
        trees.push(result.tree.toString())
        // Every run went to the workers when they were up, none without them.
        assert.equal(importPoolRuns() - before, workers > 0 ? Math.ceil(lines.length / 128) : 0)
        for (const id of ['t-0/ü-0', 't-0/ü-4998', 't-3/ü-2502']) {
          const record = await node.frames.get(id)
          assert.equal(record.cid.toString(), want.cids.get(id))
        }
      } finally {
        await cleanup()
        await stopImportPool()
      }
    }
    assert.deepEqual(trees, [want.root, want.root])
  })

  it('a bad line in a worker run fails the import with its line number, and nothing becomes visible', async () => {
    Object.assign(importPool, { workers: 2, maxLoad: Infinity, threshold: 0, chunkLines: 64, queued: Infinity })
    const { node, cleanup } = await tempNode()
    try {
      await poolUp()
      const base = await node.refs.workingTree(await node.refs.currentBranch())
      for (const [bad, code] of [['{"id": "x", "kind": 5}', 'ERR_FRAME_INVALID'], ['{"id": "x", ', 'ERR_JSON_INVALID']] as const) {
        const lines = frameLines(3000).map(l => l.replace('"t-', '"u-'))
        lines.splice(2499, 0, bad) // line 2500
        const before = importPoolRuns()
        await assert.rejects(node.frames.import(lines, { source: 'bad.ndjson' }), (err: Error & { code?: string }) => {
          assert.equal(err.code, code)
          assert.match(err.message, /^bad\.ndjson:2500: /)
          return true
        })
        // The bad line was in run 40 (lines 2497..2560): it and the runs before went to the workers.
        assert.ok(importPoolRuns() - before >= 40)
        assert.ok((await node.refs.workingTree(await node.refs.currentBranch())).equals(base))
        await assert.rejects(node.frames.get('u-0/ü-0'), { code: 'ERR_FRAME_NOT_FOUND' })
      }
    } finally {
      await cleanup()
    }
  })

  it('a duplicate id in a later run is refused with the line of its second occurrence', async () => {
    Object.assign(importPool, { workers: 2, maxLoad: Infinity, threshold: 0, chunkLines: 50 })
    await poolUp()
    const { node, cleanup } = await tempNode()
    try {
      const lines = frameLines(1000)
      lines.push(lines[10] as string)
      await assert.rejects(node.frames.import(lines, { source: 'dup.ndjson' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_FRAME_INVALID')
        assert.match(err.message, new RegExp(`^dup\\.ndjson:${lines.length}: `))
        return true
      })
      assert.ok((await node.refs.workingTree(await node.refs.currentBranch())).equals(EMPTY_TREE))
    } finally {
      await cleanup()
    }
  })

  it('links to frames of the same import resolve across runs; an unresolved one is reported with its line', async () => {
    Object.assign(importPool, { workers: 2, maxLoad: Infinity, threshold: 0, chunkLines: 40 })
    await poolUp()
    const { node, cleanup } = await tempNode()
    try {
      const lines = frameLines(400)
      const target = encodeFrame(frameFromJson(JSON.parse(lines[399] as string))).cid.toString()
      lines.unshift(JSON.stringify({ id: 'links/first', kind: 'note', links: [{ cid: { '/': target }, rel: 'cites' }] }))
      const result = await node.frames.import(lines, { source: 'links.ndjson' })
      assert.equal(result.frames, 401)
      const missing = encodeFrame(frameFromJson({ id: 'never/stored', kind: 'note' })).cid.toString()
      const more = frameLines(300).map(l => l.replace('"t-', '"v-'))
      more.push(JSON.stringify({ id: 'links/missing', kind: 'note', links: [{ cid: { '/': missing } }] }))
      await assert.rejects(node.frames.import(more, { source: 'more.ndjson' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_LINK_UNRESOLVED')
        assert.match(err.message, new RegExp(`^more\\.ndjson:${more.length}: frame links/missing links to ${missing}`))
        return true
      })
      assert.ok((await node.refs.workingTree(await node.refs.currentBranch())).equals(result.tree))
    } finally {
      await cleanup()
    }
  })

  it('NDJSON bytes give the CIDs and tree of the same lines, on this thread and on the workers, however the bytes are cut', async () => {
    const lines = frameLines(3000)
    const want = expected(lines)
    // LF, CRLF and lone CR line ends, the last line without one: `readline` splits the same way.
    const text = lines.map((l, i) => l + ['\n', '\r\n', '\r'][i % 3]).join('').replace(/\r?\n?$/, '')
    const bytes = Buffer.from(text)
    // Cut into pieces of odd sizes, so that line ends (and CRLFs) straddle pieces.
    const pieces = async function * (): AsyncGenerator<Uint8Array> {
      for (let at = 0, n = 1; at < bytes.length; at += n, n = (n * 7 + 3) % 5000 + 1) yield bytes.subarray(at, at + n)
    }
    for (const workers of [0, 1]) {
      Object.assign(importPool, { workers, maxLoad: Infinity, threshold: 0, runBytes: 20_000, queued: Infinity })
      if (workers > 0) await poolUp()
      const { node, cleanup } = await tempNode()
      try {
        const before = importPoolRuns()
        const result = await node.frames.import({ ndjson: pieces() }, { source: 'bytes.ndjson' })
        assert.equal(result.frames, want.cids.size)
        assert.equal(result.tree.toString(), want.root)
        if (workers > 0) assert.ok(importPoolRuns() - before > 10)
        else assert.equal(importPoolRuns(), before)
      } finally {
        await cleanup()
        await stopImportPool()
      }
    }
  })

  it('NDJSON read straight into the runs (a file) gives the same tree, and the runs\' buffers come back from the threads that encode them', async () => {
    const lines = frameLines(3000)
    const want = expected(lines)
    const bytes = Buffer.from(lines.join('\n') + '\n')
    for (const workers of [0, 1]) {
      Object.assign(importPool, { workers, maxLoad: Infinity, threshold: 0, runBytes: 20_000, queued: Infinity })
      if (workers > 0) await poolUp()
      const { node, cleanup } = await tempNode()
      try {
        // A reader that gives odd amounts, as a file handle may.
        let at = 0
        const readNdjson = async (into: Uint8Array, offset: number, length: number): Promise<number> => {
          const n = Math.min(length, bytes.length - at, 1 + (at % 7919))
          into.set(bytes.subarray(at, at + n), offset)
          at += n
          return n
        }
        runBuffers.clear()
        encodedBuffers.clear()
        const result = await node.frames.import({ readNdjson }, { source: 'read.ndjson' })
        assert.equal(result.frames, want.cids.size)
        assert.equal(result.tree.toString(), want.root)
        // Handed back by this thread or the worker, then kept for the next runs.
        assert.ok(runBuffers.size > 0, 'run buffers handed back')
        assert.ok(encodedBuffers.size > 0, 'block buffers handed back')
      } finally {
        await cleanup()
        await stopImportPool()
      }
    }
  })

  it('a new tree whose leaves are made partly on a worker is the same tree, its blocks all written', async () => {
    const lines = frameLines(3000)
    const want = expected(lines)
    for (const share of [0.1, 0.5, 0.9]) {
      Object.assign(importPool, { workers: 1, maxLoad: Infinity, threshold: 0, runBytes: 20_000, queued: Infinity, treeSplit: 0, treeShareHere: share })
      await poolUp()
      const { node, cleanup } = await tempNode()
      try {
        const before = importPoolLeaves()
        const result = await node.frames.import(lines, { source: 'split.ndjson' })
        assert.equal(result.tree.toString(), want.root, `share ${share}`)
        assert.equal(importPoolLeaves() - before, 1, 'a worker made part of the leaves')
        await node.commits.commit({ message: 'split' })
        const report = await node.verifier.verify()
        assert.equal(report.ok, true, JSON.stringify(report.problems))
        // The frames, and every node of the tree.
        assert.ok(report.blocks > want.cids.size + 1, `${report.blocks} blocks`)
      } finally {
        await cleanup()
        await stopImportPool()
      }
    }
  })

  it('NDJSON bytes: a bad line is reported with its line number (CRLF, lone CR and blank lines counted as readline counts them)', async () => {
    Object.assign(importPool, { workers: 1, maxLoad: Infinity, threshold: 0, runBytes: 4096, queued: Infinity })
    await poolUp()
    const { node, cleanup } = await tempNode()
    try {
      // No empty line: after a line that ends with a lone CR, its LF would make a CRLF (for readline too).
      const lines = frameLines(600).filter(l => l !== '')
      lines.splice(449, 0, '{"id": "bad", "kind": 5}') // line 450
      const text = lines.map((l, i) => l + ['\n', '\r\n', '\r'][i % 3]).join('')
      await assert.rejects(node.frames.import({ ndjson: (async function * () { yield Buffer.from(text) })() }, { source: 'bad.ndjson' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_FRAME_INVALID')
        assert.match(err.message, /^bad\.ndjson:450: /)
        return true
      })
      assert.ok((await node.refs.workingTree(await node.refs.currentBranch())).equals(EMPTY_TREE))
    } finally {
      await cleanup()
    }
  })

  it('NDJSON bytes: a line too long to hold is refused at its line, after a bad line before it', async () => {
    const { node, cleanup } = await tempNode()
    try {
      const long = '{"id": "long", "kind": "note", "body": "' + 'x'.repeat(MAX_NDJSON_LINE_BYTES) + '"}'
      const input = (lines: string[]): { ndjson: AsyncIterable<Uint8Array> } => ({
        ndjson: (async function * () {
          for (const line of lines) {
            const bytes = Buffer.from(line + '\n')
            for (let at = 0; at < bytes.length; at += 65536) yield bytes.subarray(at, at + 65536)
          }
        })()
      })
      const good = frameLines(20)
      await assert.rejects(node.frames.import(input([...good, long, ...good]), { source: 'long.ndjson' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_PAYLOAD_TOO_LARGE')
        assert.match(err.message, new RegExp(`^long\\.ndjson:${good.length + 1}: `))
        return true
      })
      await assert.rejects(node.frames.import(input([...good.slice(0, 5), '{"id": 1', ...good.slice(5), long]), { source: 'both.ndjson' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_JSON_INVALID')
        assert.match(err.message, /^both\.ndjson:6: /)
        return true
      })
      assert.ok((await node.refs.workingTree(await node.refs.currentBranch())).equals(EMPTY_TREE))
    } finally {
      await cleanup()
    }
  })

  it('while the workers are busy this thread encodes runs too, with the same result', async () => {
    Object.assign(importPool, { workers: 1, maxLoad: Infinity, threshold: 0, chunkLines: 50, queued: 1 })
    await poolUp()
    const { node, cleanup } = await tempNode()
    try {
      const lines = frameLines(2000)
      const before = importPoolRuns()
      const result = await node.frames.import(lines, { source: 'shared' })
      const onWorkers = importPoolRuns() - before
      const runs = Math.ceil(lines.length / 50)
      assert.ok(onWorkers > 0 && onWorkers < runs, `${onWorkers} of ${runs} runs on the worker`)
      assert.equal(result.tree.toString(), expected(lines).root)
    } finally {
      await cleanup()
    }
  })

  it('a repeated id and a bad line: the one on the earlier line is reported', async () => {
    Object.assign(importPool, { workers: 1, maxLoad: Infinity, threshold: 0, chunkLines: 30 })
    await poolUp()
    const { node, cleanup } = await tempNode()
    try {
      const lines = frameLines(300)
      const dupFirst = [...lines]
      dupFirst.splice(99, 0, lines[3] as string) // line 100 repeats line 4
      dupFirst.splice(199, 0, '{"id": "bad", "kind": 5}') // line 200
      await assert.rejects(node.frames.import(dupFirst, { source: 'a' }), (err: Error) => /^a:100: frame id .* appears twice/.test(err.message))
      const badFirst = [...lines]
      badFirst.splice(49, 0, '{"id": "bad", "kind": 5}') // line 50
      badFirst.splice(99, 0, lines[3] as string) // line 100
      await assert.rejects(node.frames.import(badFirst, { source: 'b' }), (err: Error & { code?: string }) => err.code === 'ERR_FRAME_INVALID' && /^b:50: /.test(err.message) && !/twice/.test(err.message))
      // Three of one id: the second is reported.
      const three = [...lines, lines[7] as string, lines[7] as string]
      await assert.rejects(node.frames.import(three, { source: 'c' }), (err: Error) => err.message.startsWith(`c:${lines.length + 1}: `))
    } finally {
      await cleanup()
    }
  })

  it('the pool does not start while the cores are busy (load average at or above maxLoad)', async () => {
    Object.assign(importPool, { workers: 2, maxLoad: -1, minIdleCores: Infinity, threshold: 0, chunkLines: 64 })
    const { node, cleanup } = await tempNode()
    try {
      const lines = frameLines(1000)
      const before = importPoolRuns()
      const result = await node.frames.import(lines, { source: 'busy' })
      assert.equal(importPoolSize(), 0)
      assert.equal(importPoolRuns(), before)
      assert.equal(result.tree.toString(), expected(lines).root)
    } finally {
      await cleanup()
    }
  })

  it('an import whose input is known to be big (expectedBytes) starts the pool before its first line', async () => {
    Object.assign(importPool, { workers: 1, maxLoad: Infinity, thresholdBytes: 1000 })
    const { node, cleanup } = await tempNode()
    try {
      const lines = frameLines(200)
      let sizeAtFirstLine = -1
      // Given as a stream of lines: without the hint the pool would start only past `threshold` lines.
      const stream = (async function * () {
        sizeAtFirstLine = importPoolSize()
        yield * lines
      })()
      const result = await node.frames.import(stream, { source: 'hinted', expectedBytes: 5000 })
      assert.equal(sizeAtFirstLine, 1)
      assert.equal(result.tree.toString(), expected(lines).root)
      await stopImportPool()
      const small = (async function * () {
        sizeAtFirstLine = importPoolSize()
        yield * lines
      })()
      await node.frames.import(small, { source: 'hinted-small', expectedBytes: 999 })
      assert.equal(sizeAtFirstLine, 0)
    } finally {
      await cleanup()
    }
  })

  it('an import known to be big gives its runs to a worker that is up at once, not past `threshold` lines', async () => {
    Object.assign(importPool, { workers: 1, maxLoad: Infinity, thresholdBytes: 1000, threshold: 1_000_000, runBytes: 4096, queued: Infinity })
    await poolUp()
    const { node, cleanup } = await tempNode()
    try {
      const lines = frameLines(600)
      const bytes = Buffer.from(lines.join('\n') + '\n')
      // In small pieces: a run ends at the last line break of the piece that fills it.
      const chunks = async function * (): AsyncGenerator<Uint8Array> { for (let at = 0; at < bytes.length; at += 2048) yield bytes.subarray(at, at + 2048) }
      let before = importPoolRuns()
      const result = await node.frames.import({ ndjson: chunks() }, { source: 'known-big.ndjson', expectedBytes: bytes.length })
      assert.equal(result.tree.toString(), expected(lines).root)
      assert.ok(importPoolRuns() - before > 5, `${importPoolRuns() - before} runs on the worker`)
      // The same import without the hint stays on this thread below the threshold.
      before = importPoolRuns()
      await node.frames.import({ ndjson: chunks() }, { source: 'unknown.ndjson' })
      assert.equal(importPoolRuns() - before, 0)
    } finally {
      await cleanup()
    }
  })

  it('past the load average, the pool starts on the CPU idle since the process started (50 ms to 5 s ago), not after', async () => {
    // In a process of its own, so that its start is recent. The thresholds say what counts as idle
    // (any share at -1, none at Infinity): the measure itself is the machine's, not the test's.
    const workers = JSON.stringify(fileURLToPath(new URL('../../src/services/import-workers.ts', import.meta.url)))
    const script = `
      import { importPool, importPoolSize, startImportPool, stopImportPool } from ${workers}
      const pause = (ms) => new Promise(resolve => setTimeout(resolve, ms))
      const sizes = []
      Object.assign(importPool, { workers: 1, maxLoad: -1, minIdleCores: -1 })
      startImportPool()
      sizes.push(importPoolSize()) // under 50 ms since the start: too short to tell, the load average decides
      await pause(200)
      importPool.minIdleCores = Infinity
      startImportPool()
      sizes.push(importPoolSize())
      importPool.minIdleCores = -1
      startImportPool()
      sizes.push(importPoolSize())
      await stopImportPool()
      await pause(5100)
      startImportPool()
      sizes.push(importPoolSize()) // over 5 s: the load average decides again
      process.stdout.write(JSON.stringify(sizes))
    `
    const { code, out, err } = await child(script)
    assert.equal(code, 0, err)
    assert.deepEqual(JSON.parse(out), [0, 0, 1, 0])
  })

  it('a small import stays on the main thread', async () => {
    const { node, cleanup } = await tempNode()
    try {
      await node.frames.import(frameLines(200), { source: 'small' })
      assert.equal(importPoolSize(), 0)
    } finally {
      await cleanup()
    }
  })

  it('the pool does not keep a process alive', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      // The child imports on the pool and closes its node; it must then exit by itself.
      const script = `
        import { createNode } from ${JSON.stringify(fileURLToPath(new URL('../../src/node.ts', import.meta.url)))}
        import { importPool, importPoolReady, importPoolSize } from ${JSON.stringify(fileURLToPath(new URL('../../src/services/import-workers.ts', import.meta.url)))}
        Object.assign(importPool, { workers: 1, maxLoad: Infinity, threshold: 0, chunkLines: 64, idleMs: 600000 })
        const node = await createNode({ repo: ${JSON.stringify(join(dir, 'repo'))}, create: true })
        const lines = (tag) => Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: tag + '/' + i, kind: 'note' }))
        await node.frames.import(lines('a'))
        // The second import runs on the worker once it is up.
        while (importPoolReady() === 0) await new Promise(resolve => setTimeout(resolve, 20))
        const r = await node.frames.import(lines('b'))
        await node.close()
        process.stdout.write(JSON.stringify({ frames: r.frames, pool: importPoolSize() }))
      `
      const { code, signal, out, err } = await child(script)
      assert.equal(signal, null, `the child did not exit by itself: ${err}`)
      assert.equal(code, 0, err)
      assert.deepEqual(JSON.parse(out), { frames: 3000, pool: 1 })
    } finally {
      await cleanup()
    }
  })

  const spawnModule = JSON.stringify(fileURLToPath(new URL('../../src/services/import-worker-spawn.ts', import.meta.url)))
  const poolModule = JSON.stringify(fileURLToPath(new URL('../../src/services/import-workers.ts', import.meta.url)))

  it('a worker started ahead of a big import (prestartImportWorker) is the one the pool takes; none for a small one', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const script = `
        import { createNode } from ${JSON.stringify(fileURLToPath(new URL('../../src/node.ts', import.meta.url)))}
        import { importWorkersSpawned, prestartImportWorker, takePrestartedWorker } from ${spawnModule}
        import { importPool, importPoolReady, importPoolRuns, importPoolSize, startImportPool } from ${poolModule}
        Object.assign(importPool, { workers: 1, maxLoad: Infinity, prestartMaxLoad: Infinity, threshold: 0, chunkLines: 64 })
        const small = prestartImportWorker(importPool.thresholdBytes)
        const big = prestartImportWorker(importPool.thresholdBytes + 1)
        const again = prestartImportWorker(importPool.thresholdBytes + 1)
        const node = await createNode({ repo: ${JSON.stringify(join(dir, 'repo'))}, create: true })
        // The pool takes it (as an import known to be big does first), and the import runs on it once it is up.
        startImportPool()
        while (importPoolReady() === 0) await new Promise(resolve => setTimeout(resolve, 20))
        const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: 'p/' + i, kind: 'note' }))
        const r = await node.frames.import(lines)
        await node.close()
        process.stdout.write(JSON.stringify({ small, big, again, frames: r.frames, pool: importPoolSize(), spawned: importWorkersSpawned(), onWorker: importPoolRuns() > 0, left: takePrestartedWorker() === undefined }))
      `
      const r = await child(script)
      assert.equal(r.code, 0, r.err)
      assert.deepEqual(JSON.parse(r.out), { small: false, big: true, again: false, frames: 3000, pool: 1, spawned: 1, onWorker: true, left: true })
    } finally {
      await cleanup()
    }
  })

  it('a worker started ahead ends when the pool finds no core free, and one never taken keeps no process alive', async () => {
    const script = `
      import { prestartImportWorker, takePrestartedWorker } from ${spawnModule}
      import { importPool, importPoolSize, startImportPool } from ${poolModule}
      Object.assign(importPool, { workers: 1, prestartMaxLoad: Infinity, maxLoad: -1, minIdleCores: Infinity })
      const refused = prestartImportWorker(importPool.thresholdBytes + 1)
      startImportPool()
      const size = importPoolSize()
      const gone = takePrestartedWorker() === undefined
      // Past the load average a worker is not started ahead either.
      importPool.prestartMaxLoad = -1
      const busy = prestartImportWorker(importPool.thresholdBytes + 1)
      importPool.prestartMaxLoad = Infinity
      // This one is never taken: the process must end all the same.
      const kept = prestartImportWorker(importPool.thresholdBytes + 1)
      process.stdout.write(JSON.stringify({ refused, size, gone, busy, kept }))
    `
    const r = await child(script)
    assert.equal(r.signal, null, `the process did not end by itself: ${r.err}`)
    assert.equal(r.code, 0, r.err)
    assert.deepEqual(JSON.parse(r.out), { refused: true, size: 0, gone: true, busy: false, kept: true })
  })

  it('a worker\'s young generation is small (V8 would let it grow to 192 MB, mapped and zeroed a page at a time)', async () => {
    const { spawnImportWorker } = await import('../../src/services/import-worker-spawn.ts')
    const worker = spawnImportWorker()
    try {
      const limit = worker.resourceLimits?.maxYoungGenerationSizeMb
      assert.ok(limit !== undefined && limit > 0 && limit <= 16, `young generation ${String(limit)} MB`)
    } finally {
      await worker.terminate()
    }
  })

  it('the cores idle since the start leave out this process\'s own threads: its main thread counts as a core, the others as idle', () => {
    const at = 1_000_000
    const start = { idle: 0, total: 0, own: 0, at }
    // 2 cores over 200 ms (400 ms of CPU time): 300 ms busy, 200 ms of it this process's.
    assert.equal(idleCoresBetween(start, { idle: 100, total: 400, own: 200, at: at + 200 }, 2), 0.5)
    // The same busy time, all another process's: no core left beside the main thread.
    assert.equal(idleCoresBetween(start, { idle: 100, total: 400, own: 0, at: at + 200 }, 2), -0.5)
    // This process counted more than the system did (ticks of 10 ms): nobody else was busy.
    assert.equal(idleCoresBetween(start, { idle: 300, total: 400, own: 150, at: at + 200 }, 2), 1)
    // Too soon, too late, or no time counted: nothing to tell.
    assert.equal(idleCoresBetween(start, { idle: 10, total: 40, own: 0, at: at + 20 }, 2), undefined)
    assert.equal(idleCoresBetween(start, { idle: 10, total: 40, own: 0, at: at + 6000 }, 2), undefined)
    assert.equal(idleCoresBetween(start, { ...start, at: at + 200 }, 2), undefined)
  })

  it('FRAMEHUB_IMPORT_WORKERS sets the pool: 0 none, a number that many whatever the load; anything else leaves the defaults', async () => {
    const script = `
      import { importPool } from ${spawnModule}
      process.stdout.write(JSON.stringify({ workers: importPool.workers, forced: importPool.maxLoad === Infinity && importPool.prestartMaxLoad === Infinity }))
    `
    const read = async (value: string | undefined): Promise<{ workers: number, forced: boolean }> =>
      JSON.parse((await child(script, { FRAMEHUB_IMPORT_WORKERS: value })).out)
    const defaults = await read(undefined)
    assert.equal(defaults.forced, false)
    assert.deepEqual(await read('0'), { workers: 0, forced: false })
    assert.deepEqual(await read('3'), { workers: 3, forced: true })
    for (const bad of ['', 'two', '-1', '1.5', '99999']) assert.deepEqual(await read(bad), defaults, bad)
  })
})
