import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/repo.ts'

/** Makes the CLI meet one of Node's own errors (ERR_OUT_OF_RANGE) where it looks up the default repository. */
const NODE_ERROR = fileURLToPath(new URL('../helpers/node-error.ts', import.meta.url))

describe('CLI report of errors that are not framehub\'s', () => {
  // Only the run that asks for it may print a stack.
  delete process.env.FRAMEHUB_DEBUG
  const env = { NODE_OPTIONS: `--import ${NODE_ERROR}` }

  it("reports Node's ERR_ errors as internal: exit 70, one line, no stack", async () => {
    const res = await runCli(['log'], { env })
    assert.equal(res.code, 70, res.stderr)
    assert.match(res.stderr, /^internal error: The value of "size" is out of range\. .*\n$/)
    assert.doesNotMatch(res.stderr, /ERR_OUT_OF_RANGE|\n\s+at /)
  })

  it('with --json, reports them with the code ERR_INTERNAL', async () => {
    const res = await runCli(['log', '--json'], { env })
    assert.equal(res.code, 70, res.stderr)
    const lines = res.stderr.trim().split('\n')
    assert.equal(lines.length, 1, res.stderr)
    assert.equal(JSON.parse(lines[0] as string).code, 'ERR_INTERNAL')
  })

  it('prints the stack only with FRAMEHUB_DEBUG', async () => {
    const res = await runCli(['log'], { env: { ...env, FRAMEHUB_DEBUG: '1' } })
    assert.equal(res.code, 70, res.stderr)
    assert.match(res.stderr, /^internal error: /)
    assert.match(res.stderr, /RangeError \[ERR_OUT_OF_RANGE\][^\n]*\n\s+at /)
  })
})
