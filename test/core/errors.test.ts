import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { CODES, FramehubError, isCode, isFramehubError, RefNotFoundError } from '../../src/core/errors.ts'
import type { Code } from '../../src/core/errors.ts'
import { TreeError, TreeInputError } from '../../src/core/tree/errors.ts'
import { EXIT, exitCodeFor, exitOfCode } from '../../src/cli/exit-codes.ts'
import { describeError, httpCodes, statusOf, statusOfCode } from '../../src/http/errors.ts'

const codes = Object.keys(CODES) as Code[]

/** The rows of the first Markdown table after `heading` whose header starts with `| first |`: first cell → codes named in the row. */
function tableAfter (readme: string, heading: string, first: string): Map<number, string[]> {
  const at = readme.indexOf(heading)
  assert.ok(at >= 0, `README has "${heading}"`)
  const start = readme.indexOf(`| ${first} |`, at)
  assert.ok(start >= 0, `README has a table "| ${first} |" after "${heading}"`)
  const rows = new Map<number, string[]>()
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break
    const m = /^\| (\d+) \|(.*)\|$/.exec(line)
    assert.ok(m != null, `a row of the "${first}" table: ${line}`)
    rows.set(Number(m[1]), [...(m[2] ?? '').matchAll(/`(ERR_[A-Z_]+)`/g)].map(c => c[1] as string))
  }
  return rows
}

describe('the one registry of error codes', () => {
  it('gives every code an HTTP status and an exit code, and the tables name no other code', () => {
    for (const code of codes) {
      assert.ok(Object.hasOwn(statusOfCode, code), `${code} has an HTTP status`)
      const status = statusOfCode[code]
      assert.ok(Number.isInteger(status) && status >= 400 && status < 600, `${code}: status ${status}`)
      assert.equal(statusOf(code), status)
      assert.ok(Object.hasOwn(exitOfCode, code), `${code} has an exit code`)
      assert.ok(Object.values(EXIT).includes(exitOfCode[code]), `${code}: exit ${exitOfCode[code]}`)
      assert.notEqual(exitOfCode[code], EXIT.ok, `${code} does not exit 0`)
      assert.equal(exitCodeFor(code), exitOfCode[code])
    }
    assert.deepEqual(Object.keys(statusOfCode).filter(c => !isCode(c)), [])
    assert.deepEqual(Object.keys(exitOfCode).filter(c => !isCode(c)), [])
    assert.deepEqual(Object.values(httpCodes).filter(c => !isCode(c)), [])
  })

  it('keeps the statuses and exit codes of the codes users know', () => {
    const known: Array<[Code, number, number]> = [
      ['ERR_USAGE', 400, 2], ['ERR_REF_NOT_FOUND', 404, 3], ['ERR_FRAME_INVALID', 400, 4],
      ['ERR_BLOCK_CORRUPT', 500, 5], ['ERR_REPO_LOCKED', 503, 6], ['ERR_DAEMON_UNREACHABLE', 502, 7],
      ['ERR_TREE_INVALID', 422, 5], ['ERR_TREE_INPUT_INVALID', 400, 4], ['ERR_PAYLOAD_TOO_LARGE', 413, 4],
      ['ERR_NOTHING_TO_COMMIT', 409, 1], ['ERR_PIN_FAILED', 502, 1], ['ERR_INTERNAL', 500, 1]
    ]
    for (const [code, status, exit] of known) assert.deepEqual([code, statusOfCode[code], exitOfCode[code]], [code, status, exit])
  })

  it('maps a code outside the registry (a daemon or peer of another version) to 500 and exit 1', () => {
    assert.equal(isCode('ERR_FROM_THE_FUTURE'), false)
    assert.equal(isCode('toString'), false)
    assert.equal(statusOf('ERR_FROM_THE_FUTURE'), 500)
    assert.equal(exitCodeFor('ERR_FROM_THE_FUTURE'), EXIT.failure)
    assert.equal(exitCodeFor('constructor'), EXIT.failure)
  })

  it('lists every code in the README under its exit status and its HTTP status', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    const byExit = tableAfter(readme, '### Errors', 'exit')
    const byStatus = tableAfter(readme, '## The daemon and its gateway', 'status')
    for (const code of codes) {
      assert.ok(byExit.get(exitOfCode[code])?.includes(code), `README lists ${code} under exit ${exitOfCode[code]}`)
      assert.ok(byStatus.get(statusOfCode[code])?.includes(code), `README lists ${code} under HTTP ${statusOfCode[code]}`)
    }
    // No row names a code elsewhere (exit 70 names Node's codes and the JSON code of internal errors).
    for (const [exit, named] of byExit) {
      if (exit === EXIT.internal) continue
      for (const code of named) assert.equal(isCode(code) ? exitOfCode[code] : undefined, exit, `README: ${code} under exit ${exit}`)
    }
    for (const [status, named] of byStatus) {
      for (const code of named) assert.equal(isCode(code) ? statusOfCode[code] : undefined, status, `README: ${code} under HTTP ${status}`)
    }
    assert.ok(byExit.has(EXIT.internal), 'README documents exit 70')
  })
})

describe('isFramehubError', () => {
  it('recognises framehub errors, tree errors included', () => {
    assert.ok(isFramehubError(new RefNotFoundError('no such branch')))
    assert.ok(isFramehubError(new FramehubError('ERR_USAGE', 'bad')))
    const tree = new TreeError('a child at the wrong level')
    const input = new TreeInputError('a duplicate key')
    assert.ok(tree instanceof FramehubError && isFramehubError(tree))
    assert.equal(tree.code, 'ERR_TREE_INVALID')
    assert.ok(input instanceof TreeError && isFramehubError(input))
    assert.equal(input.code, 'ERR_TREE_INPUT_INVALID')
    assert.equal(input.name, 'TreeInputError')
  })

  it('recognises an error of another copy of the module by its brand', async () => {
    const copy = await import(`../../src/core/errors.ts?copy=${Date.now()}`) as typeof import('../../src/core/errors.ts')
    assert.notEqual(copy.FramehubError, FramehubError)
    const err = new copy.RefNotFoundError('no such branch')
    assert.ok(!(err instanceof FramehubError))
    assert.ok(isFramehubError(err))
    assert.ok(copy.isFramehubError(new RefNotFoundError('no such branch')))
  })

  it('does not take Node\'s ERR_ errors, nor look-alikes, for framehub errors', async () => {
    let nodeError: unknown
    try { Buffer.alloc(-1) } catch (err) { nodeError = err }
    assert.equal((nodeError as { code?: string }).code, 'ERR_OUT_OF_RANGE')
    assert.equal(isFramehubError(nodeError), false)
    const fsError = await readFile(Symbol('not a path') as unknown as string).catch((err: unknown) => err)
    assert.equal((fsError as { code?: string }).code, 'ERR_INVALID_ARG_TYPE')
    assert.equal(isFramehubError(fsError), false)
    assert.equal(isFramehubError(Object.assign(new Error('looks like ours'), { code: 'ERR_USAGE' })), false)
    assert.equal(isFramehubError({ code: 'ERR_USAGE', message: 'a plain object' }), false)
    assert.equal(isFramehubError(null), false)
    // The gateway answers them as its own failure, without their message or code.
    assert.deepEqual(describeError(nodeError), { status: 500, body: { code: 'ERR_INTERNAL', message: 'internal error' } })
  })

  it('keeps the brand out of what an error shows', () => {
    const err = new RefNotFoundError('no such branch', { ref: 'x' })
    assert.deepEqual(Object.getOwnPropertySymbols(err), [])
    assert.deepEqual(JSON.parse(JSON.stringify(err)), { code: 'ERR_REF_NOT_FOUND', details: { ref: 'x' }, name: 'RefNotFoundError' })
  })
})
