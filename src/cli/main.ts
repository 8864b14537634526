// The `framehub` command. Only Node built-ins are imported statically: Node's compile cache is
// switched on first, so that every module loaded after it (commander, the command's own modules,
// the node's) is compiled, and its types stripped, from the cache on later runs.
import { lstatSync, mkdirSync, statSync } from 'node:fs'
import { enableCompileCache } from 'node:module'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'

/**
 * Where compiled code is cached: `node_modules/.cache/framehub` next to framehub's own modules,
 * or, when that is not writable (a read-only install), a directory of this user's in the OS temp
 * dir that nobody else may write to (compiled code is run from it). bin/framehub.js does the same
 * before loading this file. `FRAMEHUB_COMPILE_CACHE=0` turns it off.
 */
function compileCache (): void {
  if (process.env.FRAMEHUB_COMPILE_CACHE === '0' || process.env.NODE_COMPILE_CACHE != null) return
  const local = new URL('../../node_modules/.cache/framehub', import.meta.url).pathname
  try {
    const r = enableCompileCache(local)
    if (r.directory != null) return
  } catch {}
  try {
    const dir = join(tmpdir(), `framehub-compile-cache-${userInfo().uid}`)
    try { mkdirSync(dir, { mode: 0o700 }) } catch {}
    const s = lstatSync(dir)
    if (s.isDirectory() && s.uid === userInfo().uid && (s.mode & 0o022) === 0) enableCompileCache(dir)
  } catch {}
}
compileCache()

/**
 * `frame import FILE` of a file big enough for the import's worker threads starts one now, before
 * this command loads its modules (commander, the node's): it is ready 0.1 s sooner, while this
 * thread still loads them (`prestartImportWorker`). Should a daemon hold the repository, the
 * daemon imports, and the worker ends with the command, unused. A file that cannot be read is
 * left to the command, which says why.
 */
async function prestartImport (argv: readonly string[]): Promise<void> {
  const { importFileOf } = await import('./argv.ts')
  const file = importFileOf(argv)
  if (file === undefined) return
  let info
  try {
    info = statSync(file, { throwIfNoEntry: false })
  } catch {
    return
  }
  if (info?.isFile() !== true) return
  const { prestartImportWorker } = await import('../services/import-worker-spawn.ts')
  prestartImportWorker(info.size)
}
// idle-cores.ts starts measuring how busy the machine is (an import asks before it starts
// workers): before a worker is started ahead, whose CPU time it takes out.
await import('../services/idle-cores.ts')
await prestartImport(process.argv.slice(2))

const [{ CommanderError }, { isFramehubError }, { EXIT, exitCodeFor }, { createProgram }] = await Promise.all([
  import('commander'), import('../core/errors.ts'), import('./exit-codes.ts'), import('./program.ts')
])

function report (err: unknown, json: boolean): number {
  if (isFramehubError(err)) {
    if (json) process.stderr.write(JSON.stringify({ code: err.code, message: err.message }) + '\n')
    else process.stderr.write(`error: ${err.message} (${err.code})\n`)
    return exitCodeFor(err.code)
  }
  const message = err instanceof Error ? err.message : String(err)
  if (json) process.stderr.write(JSON.stringify({ code: 'ERR_INTERNAL', message }) + '\n')
  else process.stderr.write(`internal error: ${message}\n`)
  if (process.env.FRAMEHUB_DEBUG != null && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
  return EXIT.internal
}

async function main (argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  try {
    const program = await createProgram(argv)
    await program.parseAsync(argv, { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    return report(err, json)
  }
}

/**
 * Ends the process once what it wrote is out. Every command has finished its work when `main`
 * returns (the daemon and the MCP server return when they stop), so nothing is cut short:
 * leaving it to the event loop instead spent 20 to 30 ms (more after a big import) on tearing
 * down the heap of a process that is ending anyway.
 */
function exitWhenWritten (code: number): void {
  process.exitCode = code
  let pending = 2
  const written = (): void => { if (--pending === 0) process.exit(code) }
  // A write's callback runs once the writes before it are out (or have failed: a closed pipe).
  process.stdout.write('', written)
  process.stderr.write('', written)
}

exitWhenWritten(await main(process.argv.slice(2)))
