import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { Help } from 'commander'
import { importFileOf } from '../../src/cli/argv.ts'
import { commandWord } from '../../src/cli/argv.ts'
import { COMMANDS, createFullProgram, createProgram } from '../../src/cli/program.ts'
import { runCli } from '../helpers/repo.ts'

describe('the command table (commands load their modules on demand)', () => {
  it('lists every top-level command the modules register, in order, with the same usage term and description', async () => {
    const full = await createFullProgram()
    const help = new Help()
    const registered = full.commands.map(c => ({ name: c.name(), term: help.subcommandTerm(c), description: c.description() }))
    assert.deepEqual(COMMANDS.map(c => ({ name: c.name, term: c.term, description: c.description })), registered)
  })

  it('`framehub --help` (nothing loaded) reads exactly as with every command loaded', async () => {
    assert.equal((await createProgram(['--help'])).helpInformation(), (await createFullProgram()).helpInformation())
    assert.equal((await createProgram([])).helpInformation(), (await createFullProgram()).helpInformation())
  })

  it('finds the command word after global options and their values', () => {
    assert.equal(commandWord(['--repo', 'frame', 'log']), 'log')
    assert.equal(commandWord(['--json', '--repo=x', 'frame', 'get', 'a']), 'frame')
    assert.equal(commandWord(['help', 'trace']), 'trace')
    assert.equal(commandWord(['help']), 'help')
    assert.equal(commandWord(['--help']), undefined)
  })

  it('finds the FILE of `frame import` before any module loads (its worker starts ahead), and nothing else', () => {
    assert.equal(importFileOf(['frame', 'import', 'a.ndjson']), 'a.ndjson')
    assert.equal(importFileOf(['--repo', 'r', '--json', 'frame', 'import', '--branch', 'b', 'a.ndjson']), 'a.ndjson')
    assert.equal(importFileOf(['frame', 'import', '--', '-odd.ndjson']), '-odd.ndjson')
    assert.equal(importFileOf(['--repo', 'frame', 'frame', 'import', 'x']), 'x')
    for (const argv of [['frame', 'import', '-'], ['frame', 'import'], ['frame', 'import', 'a', '--help'], ['frame', 'import', 'a', 'b'], ['frame', 'put', 'a'], ['snapshot', 'import', 'a.car'], ['import', 'a'], []]) {
      assert.equal(importFileOf(argv), undefined, argv.join(' '))
    }
  })

  it('a command named on the command line runs with only its own module', async () => {
    const program = await createProgram(['--repo', '/nowhere', 'log', '-n', '1'])
    assert.deepEqual(program.commands.map(c => c.name()), ['commit', 'log', 'show', 'diff'])
  })
})

describe('framehub --version', () => {
  it('prints the version of package.json and exits 0 (also -V)', async () => {
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout.trim(), version)
    }
  })

  it('an unknown command is still a usage error with a suggestion', async () => {
    const r = await runCli(['comit'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /unknown command 'comit'/)
    assert.match(r.stderr, /commit/)
  })
})

describe('bin/framehub.js and the compile cache', () => {
  it('a second run takes the type-stripped and compiled CLI from the cache', async () => {
    const { spawnSync } = await import('node:child_process')
    const bin = new URL('../../bin/framehub.js', import.meta.url).pathname
    // The sources (a fresh bundle would run instead: test/scripts/bundle.test.ts).
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE', FRAMEHUB_BUNDLE: '0' }
    delete env.NODE_COMPILE_CACHE
    delete env.FRAMEHUB_COMPILE_CACHE
    const run = (): string => spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', env }).stderr
    run()
    const log = run()
    assert.match(log, /retrieving transpile cache for StrippedTypeScript file:\/\/\S+\/src\/cli\/main\.ts\.\.\.success/)
    assert.match(log, /V8 code cache for ESM file:\/\/\S+\/src\/cli\/program\.ts was accepted/)
  })
})
