#!/usr/bin/env node
// Entry point of the `framehub` command. In this checkout the CLI is TypeScript run by Node's
// type stripping (Node >= 22.18). On an older system Node, re-run with the Node 24 that the
// project brings in as its `node` devDependency, so `./bin/framehub.js` works from any shell.
// The installed package has no src/: it runs the compiled dist/ (`npm run build`) on Node >= 22.19
// (undici 8, under libp2p, needs it).
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import module, { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { constants, tmpdir, userInfo } from 'node:os'

const BUNDLE_URL = '../node_modules/.cache/framehub/bundle/cli.js'

/**
 * The bundle is there and every file it was made of (scripts/bundle.ts lists them with their
 * modification times) is as it was: about 200 `stat` calls, well under a millisecond each.
 */
function bundleIsFresh () {
  try {
    const inputs = JSON.parse(readFileSync(new URL('../node_modules/.cache/framehub/bundle/inputs.json', import.meta.url), 'utf8'))
    for (const [path, mtime] of Object.entries(inputs)) {
      if (statSync(join(root, path), { throwIfNoEntry: false })?.mtimeMs !== mtime) return false
    }
    return existsSync(new URL(BUNDLE_URL, import.meta.url))
  } catch {
    return false
  }
}

const [major, minor] = process.versions.node.split('.').map(Number)
const args = process.argv.slice(2)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')

if (!existsSync(join(root, 'src', 'cli', 'main.ts'))) {
  // The installed package: plain JavaScript, no type stripping (Node strips none under
  // node_modules). dist/cli/main.js switches the compile cache on itself.
  if (major < 22 || (major === 22 && minor < 19)) {
    process.stderr.write(`framehub needs Node >= 22.19 (this is ${process.version})\n`)
    process.exit(1)
  }
  await import('../dist/cli/main.js')
} else if (major > 22 || (major === 22 && minor >= 18)) {
  // Node's compile cache is switched on here, before the first TypeScript file: it keeps the
  // type-stripped source too, so a warm run never starts the type stripper (which costs more
  // than all of --help). src/cli/main.ts asks for the same directory when run directly.
  if (process.env.FRAMEHUB_COMPILE_CACHE !== '0' && process.env.NODE_COMPILE_CACHE == null) {
    let r
    try { r = module.enableCompileCache(join(root, 'node_modules', '.cache', 'framehub')) } catch {}
    if (r?.directory == null) {
      // The shared temp dir: only a directory of this user's that nobody else may write to
      // (compiled code is run from it).
      try {
        const dir = join(tmpdir(), `framehub-compile-cache-${userInfo().uid}`)
        try { mkdirSync(dir, { mode: 0o700 }) } catch {}
        const s = lstatSync(dir)
        if (s.isDirectory() && s.uid === userInfo().uid && (s.mode & 0o022) === 0) module.enableCompileCache(dir)
      } catch {}
    }
  }
  // The bundle of the sources (`npm run bundle`, made at `npm install`) starts a command faster;
  // only when no source it was made of changed since (FRAMEHUB_BUNDLE=0: always the sources).
  await import(process.env.FRAMEHUB_BUNDLE !== '0' && bundleIsFresh() ? BUNDLE_URL : '../src/cli/main.ts')
} else if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // Answered here: starting Node 24 to print one line would cost more than everything else.
  process.stdout.write(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version + '\n')
} else {
  // The project's own Node 24 (node_modules/node), else wherever `node` resolves from here.
  let bundled = join(root, 'node_modules', 'node', 'bin', 'node')
  if (!existsSync(bundled)) {
    try {
      bundled = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node')
    } catch {}
  }
  if (!existsSync(bundled)) {
    process.stderr.write(`framehub needs Node >= 22.18 (this is ${process.version}); run "npm install" to bring in Node 24\n`)
    process.exit(1)
  }
  // This same script in Node 24: it switches the compile cache on before loading the CLI.
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...args], { stdio: 'inherit' })
  // This process only waits: a signal sent to it (SIGTERM from a service manager, `kill`, SIGINT
  // or SIGHUP) is passed on to the CLI, which stops as it would if it had got it itself (the
  // daemon closes its gateway and repository). A Ctrl-C in a terminal reaches both processes;
  // the daemon takes a repeat that close together as one request.
  const forward = (signal) => { if (child.exitCode == null && child.signalCode == null) child.kill(signal) }
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']
  for (const signal of signals) process.on(signal, forward)
  child.on('error', (err) => {
    process.stderr.write(`framehub: cannot start ${bundled}: ${err.message}\n`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => {
    for (const s of signals) process.off(s, forward)
    if (signal != null) {
      // Die of the same signal, so the shell sees what the CLI saw (128 + signal number).
      process.kill(process.pid, signal)
      // A signal that does not end this process (ignored here): the shell's convention.
      setImmediate(() => process.exit(128 + (constants.signals[signal] ?? 0)))
      return
    }
    process.exit(code ?? 1)
  })
}
