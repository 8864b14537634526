import assert from 'node:assert/strict'
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import { blockKey } from '../../src/storage/level-db.ts'
import { startDaemonProcess } from '../helpers/daemon.ts'
import { runCli, tempDir } from '../helpers/repo.ts'

/** `framehub snapshot` from the command line: output files, client faults, and --branch. */
describe('framehub snapshot (CLI)', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let a: string
  let commit: string
  let tree: string
  let car: string
  const cli = async (repo: string, args: string[]): ReturnType<typeof runCli> => await runCli(['--repo', repo, ...args])
  /** One line on stderr, `error: … (CODE)`, and the documented exit status. */
  const failsWith = (r: Awaited<ReturnType<typeof runCli>>, code: string, exit: number): void => {
    assert.equal(r.code, exit, `${code}: ${r.stderr}`)
    assert.match(r.stderr, new RegExp(`^error: .*\\(${code}\\)\\n$`), r.stderr)
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir())
    a = join(dir, 'a')
    assert.equal((await cli(a, ['init', '--json'])).code, 0)
    await writeFile(join(dir, 'f.json'), JSON.stringify({ id: 'snap/one', kind: 'fact', body: 1 }))
    assert.equal((await cli(a, ['frame', 'put', join(dir, 'f.json'), '--json'])).code, 0)
    const c = await cli(a, ['commit', '-m', 'one', '--json'])
    assert.equal(c.code, 0, c.stderr)
    commit = c.json.commit
    tree = c.json.tree
    car = join(dir, 'one.car')
    const e = await cli(a, ['snapshot', 'export', 'main', '-o', car, '--json'])
    assert.equal(e.code, 0, e.stderr)
    assert.equal(e.json.root, commit)
  })
  after(async () => { await cleanup() })

  /** The CAR of main with one byte of its last block flipped, as file `name` (each test writes what it reads). */
  const writeForged = async (name: string): Promise<string> => {
    const bytes = await readFile(car)
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff
    const forged = join(dir, name)
    await writeFile(forged, bytes)
    return forged
  }
  /** A CAR whose header is `header`, then junk, as file `name`. */
  const writeHeaderCar = async (name: string, header: unknown): Promise<string> => {
    const bytes = dagCbor.encode(header)
    const length = new Uint8Array(varint.encodingLength(bytes.length))
    varint.encodeTo(bytes.length, length, 0)
    const file = join(dir, name)
    await writeFile(file, Buffer.concat([length, bytes, Buffer.alloc(1000, 1)]))
    return file
  }

  it('export -o to a path that cannot be written is ERR_FILE_NOT_FOUND (exit 3) and leaves nothing', async () => {
    failsWith(await cli(a, ['snapshot', 'export', 'main', '-o', '/nonexistent/dir/x.car']), 'ERR_FILE_NOT_FOUND', 3)
    const inside = join(dir, 'a-directory')
    await mkdir(inside)
    failsWith(await cli(a, ['snapshot', 'export', 'main', '-o', inside]), 'ERR_FILE_NOT_FOUND', 3)
    failsWith(await cli(a, ['snapshot', 'export', 'main', '-o', join(car, 'under-a-file.car')]), 'ERR_FILE_NOT_FOUND', 3)
    // A failed export (unknown ref) leaves no file and no .partial behind.
    failsWith(await cli(a, ['snapshot', 'export', 'no-such-branch', '-o', join(dir, 'never.car')]), 'ERR_REF_NOT_FOUND', 3)
    assert.deepEqual((await readdir(dir)).filter(f => f.startsWith('never')), [])
  })

  it('export of a DAG with a block corrupted on disk is ERR_BLOCK_CORRUPT (exit 5) and leaves no file', async () => {
    const c = join(dir, 'c-corrupt')
    await cp(a, c, { recursive: true })
    const frame = await cli(c, ['frame', 'get', 'snap/one', '--ref', 'main', '--json'])
    assert.equal(frame.code, 0, frame.stderr)
    const db = new Level<string, Uint8Array>(join(c, 'store'), { valueEncoding: 'view' })
    await db.open()
    await db.sublevel<string, Uint8Array>('blocks', { valueEncoding: 'view' }).put(blockKey(CID.parse(frame.json.cid)), new TextEncoder().encode('rotten'))
    await db.close()
    const out = join(dir, 'corrupt-export.car')
    const r = await cli(c, ['snapshot', 'export', 'main', '-o', out])
    failsWith(r, 'ERR_BLOCK_CORRUPT', 5)
    assert.deepEqual((await readdir(dir)).filter(f => f.startsWith('corrupt-export')), [], 'no CAR and no .partial')
  })

  it('import of a CAR with a corrupt block is ERR_CAR_INVALID (exit 4) naming the block; nothing is visible', async () => {
    const b = join(dir, 'b-corrupt')
    assert.equal((await cli(b, ['init'])).code, 0)
    const forged = await writeForged('forged.car')
    const r = await cli(b, ['snapshot', 'import', forged])
    failsWith(r, 'ERR_CAR_INVALID', 4)
    assert.match(r.stderr, /block \d+ of the CAR \(baf[a-z0-9]+\) does not match its CID/)
    assert.equal((await cli(b, ['show', commit, '--json'])).code, 3, 'the commit was not imported')
  })

  it('import of a CAR whose header has no version, or an unknown one, is ERR_CAR_INVALID (exit 4)', async () => {
    const b = join(dir, 'b-header')
    assert.equal((await cli(b, ['init'])).code, 0)
    for (const [name, header] of [['no-version', { roots: [] }], ['v3', { version: 3, roots: [] }]] as const) {
      const file = await writeHeaderCar(`${name}.car`, header)
      failsWith(await cli(b, ['snapshot', 'import', file]), 'ERR_CAR_INVALID', 4)
    }
  })

  it('import --branch NAME puts a new branch on the imported commit; without it, the output says how', async () => {
    const b = join(dir, 'b-branch')
    assert.equal((await cli(b, ['init'])).code, 0)
    const plain = await cli(b, ['snapshot', 'import', car])
    assert.equal(plain.code, 0, plain.stderr)
    assert.match(plain.stdout, new RegExp(`framehub branch NAME --start ${commit}`))
    const json = await cli(b, ['snapshot', 'import', car, '--json'])
    assert.deepEqual(Object.keys(json.json).sort(), ['blocks', 'bytes', 'root'])

    const made = await cli(b, ['snapshot', 'import', car, '--branch', 'restored', '--json'])
    assert.equal(made.code, 0, made.stderr)
    assert.deepEqual(made.json, { root: commit, blocks: 3, bytes: made.json.bytes, branch: 'restored' })
    const branches = await cli(b, ['branch', '--json'])
    assert.deepEqual(branches.json.branches.map((x: { name: string, commit: string }) => [x.name, x.commit]), [['restored', commit]])
    const human = await cli(b, ['snapshot', 'import', car])
    assert.match(human.stdout, /on branch restored/)
    assert.doesNotMatch(human.stdout, /--start/)
    failsWith(await cli(b, ['snapshot', 'import', car, '--branch', 'restored']), 'ERR_REF_EXISTS', 2)
    failsWith(await cli(b, ['snapshot', 'import', car, '--branch', 'a..b']), 'ERR_REF_INVALID', 2)

    const treeCar = join(dir, 'tree.car')
    assert.equal((await cli(a, ['snapshot', 'export', tree, '-o', treeCar])).code, 0)
    const fresh = join(dir, 'b-tree')
    assert.equal((await cli(fresh, ['init'])).code, 0)
    failsWith(await cli(fresh, ['snapshot', 'import', treeCar, '--branch', 'tree']), 'ERR_USAGE', 2)
    assert.equal((await cli(fresh, ['show', tree, '--json'])).code, 3, 'a refused import leaves nothing visible')
  })

  it('through a daemon: --branch, the corrupt block and the header faults give the same answers', async () => {
    const b = join(dir, 'b-daemon')
    assert.equal((await cli(b, ['init'])).code, 0)
    const daemon = await startDaemonProcess(b, ['--offline'])
    try {
      const made = await daemon.cli(['snapshot', 'import', car, '--branch', 'restored', '--json'])
      assert.equal(made.code, 0, made.stderr)
      assert.equal(made.json.branch, 'restored')
      assert.equal(made.json.root, commit)
      const again = await daemon.cli(['snapshot', 'import', car, '--branch', 'restored'])
      assert.equal(again.code, 2, again.stderr)
      assert.match(again.stderr, /ERR_REF_EXISTS/)
      const forged = await daemon.cli(['snapshot', 'import', await writeForged('forged-daemon.car')])
      assert.equal(forged.code, 4, forged.stderr)
      assert.match(forged.stderr, /ERR_CAR_INVALID/)
      const header = await daemon.cli(['snapshot', 'import', await writeHeaderCar('v3-daemon.car', { version: 3, roots: [] })])
      assert.equal(header.code, 4, header.stderr)
      assert.match(header.stderr, /ERR_CAR_INVALID/)
      const out = await daemon.cli(['snapshot', 'export', 'restored', '-o', '/nonexistent/dir/x.car'])
      assert.equal(out.code, 3, out.stderr)
      assert.match(out.stderr, /ERR_FILE_NOT_FOUND/)
    } finally {
      await daemon.stop()
    }
  })
})
