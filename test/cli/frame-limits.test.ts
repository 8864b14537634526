import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MAX_BLOCK_BYTES } from '../../src/core/block.ts'
import { MAX_JSON_TEXT_BYTES } from '../../src/core/json-view.ts'
import { startDaemonProcess } from '../helpers/daemon.ts'
import { frameOfSize, nested } from '../helpers/frames.ts'
import type { DaemonProcess } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'
import type { CliResult } from '../helpers/repo.ts'

/** The one-line `{code, message}` a failed command writes with --json: never a stack trace. */
function failure (r: CliResult): { code: string, message: string } {
  assert.doesNotMatch(r.stderr, /\n\s+at /, `a stack trace: ${r.stderr.slice(0, 2000)}`)
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr.slice(0, 2000))
  return JSON.parse(r.stderr)
}

describe('frames and size limits: the CLI answers the same with and without a daemon', { timeout: 600_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let daemon: DaemonProcess
  let localRepo: string

  const local = async (args: string[], input?: string): Promise<CliResult> => await runCli(['--repo', localRepo, ...args, '--json'], { input, cwd: dir })
  const remote = async (args: string[], input?: string): Promise<CliResult> => await daemon.cli([...args, '--json'], { input })

  /** Runs a command both ways; both must fail with `code` and exit `exit`. Returns the two error bodies. */
  const refusedBoth = async (args: string[], code: string, exit: number, input?: string): Promise<Array<{ code: string, message: string }>> => {
    const out = []
    for (const [how, r] of [['locally', await local(args, input)], ['through the daemon', await remote(args, input)]] as const) {
      assert.equal(r.code, exit, `${args.join(' ')} ${how}: exit ${r.code}\n${r.stderr.slice(0, 2000)}`)
      const body = failure(r)
      assert.equal(body.code, code, `${args.join(' ')} ${how}: ${body.message}`)
      out.push(body)
    }
    return out
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('framehub-limits-'))
    localRepo = join(dir, 'local')
    assert.equal((await runCli(['--repo', localRepo, 'init'])).code, 0)
    daemon = await startDaemonProcess(join(dir, 'remote'), [], { cwd: dir })
    await writeFile(join(dir, 'at-limit.json'), JSON.stringify(frameOfSize('big/at-limit', MAX_BLOCK_BYTES)))
    await writeFile(join(dir, 'over-limit.json'), JSON.stringify(frameOfSize('big/over-limit', MAX_BLOCK_BYTES + 1)))
    await writeFile(join(dir, 'deep.json'), `{"id":"deep","kind":"fact","body":${nested(100_000)}}`)
    await writeFile(join(dir, 'deep.ndjson'), `{"id":"ok","kind":"fact"}\n{"id":"deep","kind":"fact","body":${nested(100_000)}}\n`)
    await writeFile(join(dir, 'deep-step.json'), `{"op":"thought","content":${nested(100_000)}}`)
    // A step whose JSON is over the daemon's body limit: refused from its headers (413) while the upload is under way.
    await writeFile(join(dir, 'huge-step.json'), JSON.stringify({ op: 'thought', content: 'y'.repeat(MAX_JSON_TEXT_BYTES + 1024) }))
    await writeFile(join(dir, 'dup.ndjson'), '{"id":"a","kind":"fact"}\n{"id":"b","kind":"fact"}\n{"id":"a","kind":"note"}\n')
    await writeFile(join(dir, 'dup-nfd.ndjson'), '{"id":"caf\u00e9","kind":"fact"}\n{"id":"cafe\u0301","kind":"note"}\n')
  })

  after(async () => {
    await daemon?.stop()
    await cleanup()
  })

  it('a frame of exactly 1 MiB encoded is stored both ways; one byte more is ERR_PAYLOAD_TOO_LARGE, exit 4, both ways', async () => {
    const [l, r] = [await local(['frame', 'put', 'at-limit.json']), await remote(['frame', 'put', 'at-limit.json'])]
    assert.equal(l.code, 0, l.stderr)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json.cid, l.json.cid, 'the same frame, the same CID')
    const [lo, ro] = await refusedBoth(['frame', 'put', 'over-limit.json'], 'ERR_PAYLOAD_TOO_LARGE', 4)
    assert.equal(ro?.message, lo?.message)
    assert.match(lo?.message ?? '', /over-limit\.json: frame big\/over-limit is 1048577 bytes .* limit of 1048576 bytes/)
    // The same frame as an NDJSON line.
    await writeFile(join(dir, 'over-limit.ndjson'), JSON.stringify(frameOfSize('big/line', MAX_BLOCK_BYTES + 1)) + '\n')
    await refusedBoth(['frame', 'import', 'over-limit.ndjson'], 'ERR_PAYLOAD_TOO_LARGE', 4)
  })

  it('a trace step over the limit is ERR_PAYLOAD_TOO_LARGE both ways, also when the daemon cuts the upload short', async () => {
    // Several times: the daemon answers 413 and closes while the body is still being sent.
    for (let i = 0; i < 3; i++) await refusedBoth(['trace', 'append', '-s', 'big', 'huge-step.json'], 'ERR_PAYLOAD_TOO_LARGE', 4)
  })

  it('100k levels of nesting: ERR_FRAME_INVALID / ERR_TRACE_STEP_INVALID, exit 4, from a file and from stdin, both ways', async () => {
    const [l] = await refusedBoth(['frame', 'put', 'deep.json'], 'ERR_FRAME_INVALID', 4)
    assert.match(l?.message ?? '', /deeper than 128 levels/)
    await refusedBoth(['frame', 'put', '-'], 'ERR_FRAME_INVALID', 4, `{"id":"deep","kind":"fact","body":${nested(100_000)}}`)
    const [line] = await refusedBoth(['frame', 'import', 'deep.ndjson'], 'ERR_FRAME_INVALID', 4)
    assert.match(line?.message ?? '', /deep\.ndjson:2: /)
    await refusedBoth(['trace', 'append', '-s', 'deep', 'deep-step.json'], 'ERR_TRACE_STEP_INVALID', 4)
  })

  it('an import with one id twice (also as NFC and NFD) is refused whole, naming the line', async () => {
    const [l] = await refusedBoth(['frame', 'import', 'dup.ndjson'], 'ERR_FRAME_INVALID', 4)
    assert.match(l?.message ?? '', /^dup\.ndjson:3: frame id "a" appears twice/)
    await refusedBoth(['frame', 'import', 'dup-nfd.ndjson'], 'ERR_FRAME_INVALID', 4)
    for (const run of [local, remote]) {
      const ls = await run(['frame', 'ls', '--prefix', 'a'])
      assert.deepEqual(ls.json, [], 'nothing of a refused import is staged')
    }
  })

  it('ids: NFD finds the NFC frame (get, rm); control characters are ERR_FRAME_INVALID', async () => {
    for (const run of [local, remote]) {
      const put = await run(['frame', 'put', '-'], '{"id":"notes/caf\u00e9","kind":"fact"}')
      assert.equal(put.code, 0, put.stderr)
      const got = await run(['frame', 'get', 'notes/cafe\u0301'])
      assert.equal(got.code, 0, got.stderr)
      assert.equal(got.json.id, 'notes/caf\u00e9')
      assert.equal((await run(['frame', 'rm', 'notes/cafe\u0301'])).code, 0)
    }
    await refusedBoth(['frame', 'put', '-'], 'ERR_FRAME_INVALID', 4, '{"id":"a\\u0007b","kind":"fact"}')
    await refusedBoth(['frame', 'put', '-'], 'ERR_FRAME_INVALID', 4, '{"id":"a\\u0085b","kind":"fact"}')
  })

  it('frame get of a commit CID says it is a commit (ERR_FRAME_NOT_FOUND, exit 3), both ways', async () => {
    for (const run of [local, remote]) {
      assert.equal((await run(['frame', 'put', '-'], '{"id":"for/commit","kind":"fact"}')).code, 0)
      const commit = await run(['commit', '-m', 'c'])
      assert.equal(commit.code, 0, commit.stderr)
      const cid = commit.json.commit as string
      const r = await run(['frame', 'get', cid])
      assert.equal(r.code, 3, r.stderr)
      const body = failure(r)
      assert.equal(body.code, 'ERR_FRAME_NOT_FOUND')
      assert.equal(body.message, `${cid} is a commit, not a frame; use \`framehub show ${cid}\``)
    }
  })
})
