#!/usr/bin/env node
// Entry point of the `framehub` command. The CLI is TypeScript run by Node's type stripping
// (Node >= 22.18). On an older system Node, re-run with the Node 24 that the project brings in
// as its `node` devDependency, so `./bin/framehub.js` works from any shell.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major > 22 || (major === 22 && minor >= 18)) {
  await import('../src/cli/main.ts')
} else {
  let bundled
  try {
    bundled = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node')
  } catch {}
  if (bundled == null || !existsSync(bundled)) {
    process.stderr.write(`framehub needs Node >= 22.18 (this is ${process.version}); run "npm install" to bring in Node 24\n`)
    process.exit(1)
  }
  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.ts')
  const r = spawnSync(bundled, [main, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}
