import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli, tempDir } from '../helpers/repo.ts'

/** `framehub network members` on a repository (no daemon): weights, the --json contract, bad input. */
describe('CLI: network members', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let repo: string
  let id: string
  const cli = async (...args: string[]): Promise<Awaited<ReturnType<typeof runCli>>> => await runCli(['--repo', repo, ...args])
  before(async () => {
    ({ dir, cleanup } = await tempDir())
    repo = join(dir, 'repo')
    const init = await cli('init', '--json')
    assert.equal(init.code, 0, init.stderr)
    id = (init.json as { peerId: string }).peerId
  })
  after(async () => { await cleanup() })

  it('adds members with a weight and lists them with --json', async () => {
    let r = await cli('network', 'members', 'add', id, '--weight', '2', '--json')
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.json, { members: [id], weights: { [id]: 2 } })
    r = await cli('network', 'members', 'ls')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`${id}\\s+weight 2`))
    r = await cli('network', 'members', 'rm', id, '--json')
    assert.deepEqual(r.json, { members: [], weights: {} })
  })

  it('refuses a bad weight with ERR_USAGE (exit 2) and changes nothing', async () => {
    for (const bad of ['-1', 'heavy', '', '1e7']) {
      const r = await cli('network', 'members', 'add', id, '--weight', bad, '--json')
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`)
      assert.equal(JSON.parse(r.stderr.trim()).code, 'ERR_USAGE')
    }
    assert.deepEqual((await cli('network', 'members', '--json')).json, { members: [], weights: {} })
  })
})
