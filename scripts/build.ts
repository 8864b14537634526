/**
 * `npm run build` (and `npm pack` / `npm publish`, through `prepack`): the installable package's
 * compiled JavaScript and type declarations in dist/, from src/ (tsconfig.build.json).
 *
 * The checkout itself never needs dist/: it runs the .ts sources on Node's type stripping. A
 * package cannot, since Node strips no types under node_modules. tsc does three things here:
 * - emits a .js and a .d.ts file in dist/ for each source file, with the sources' `./x.ts`
 *   specifiers rewritten to `./x.js` in the JavaScript (`rewriteRelativeImportExtensions`);
 * - leaves the `../../schemas/*.json` imports as they are: dist/ is at the depth of src/, so they
 *   resolve to the package's schemas/ folder (shipped in `files`), as `../../package.json` does;
 * - does not touch the generated Ajv validators (src/core/schema-validators.js and its .d.ts,
 *   plain JavaScript importing `./schema-defs.ts`), so they are copied here, that specifier
 *   rewritten to `.js`.
 * tsc keeps `./x.ts` specifiers in the .d.ts files it writes (microsoft/TypeScript#61037). tsc
 * itself accepts those there, but editors and other tools look for `./x.js`, so they are
 * rewritten to `.js` like the JavaScript's.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')

/** Relative `./x.ts` / `../x.ts` specifiers in quotes (never `./x.d.ts`), as in `from './x.ts'` and `import('./x.ts')`. */
const TS_SPECIFIER = /(['"])(\.{1,2}\/[^'"\n]*?)(?<!\.d)\.ts\1/g

/** A module's or declaration file's text with its relative `.ts` specifiers turned into `.js`. */
export function rewriteSpecifiers (text: string): string {
  return text.replace(TS_SPECIFIER, '$1$2.js$1')
}

function * declarations (dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * declarations(path)
    else if (entry.name.endsWith('.d.ts')) yield path
  }
}

function build (): void {
  // A clean dist/: files of sources removed since the last build must not be packed.
  rmSync(dist, { recursive: true, force: true })
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) {
    // A package is never built from sources that do not type-check.
    process.stderr.write(`build: tsc failed (exit ${result.status ?? result.signal})\n`)
    process.exit(1)
  }
  for (const name of ['schema-validators.js', 'schema-validators.d.ts']) {
    writeFileSync(join(dist, 'core', name), rewriteSpecifiers(readFileSync(join(root, 'src', 'core', name), 'utf8')))
  }
  for (const path of declarations(dist)) {
    const text = readFileSync(path, 'utf8')
    const rewritten = rewriteSpecifiers(text)
    if (rewritten !== text) writeFileSync(path, rewritten)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) build()
