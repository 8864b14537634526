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
 * - does not touch JavaScript modules in src/ (the generated Ajv validators,
 *   src/core/schema-validators.js, which import `./schema-defs.ts`), so they are copied here with
 *   the .d.ts beside them, their specifiers rewritten to `.js`.
 * tsc keeps `./x.ts` specifiers in the .d.ts files it writes (microsoft/TypeScript#61037). tsc
 * itself accepts those there, but editors and other tools look for `./x.js`, so they are
 * rewritten to `.js` like the JavaScript's.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')

/** Relative `./x.ts` / `../x.ts` specifiers in quotes (never `./x.d.ts`), as in `from './x.ts'` and `import('./x.ts')`. */
const TS_SPECIFIER = /(['"])(\.{1,2}\/[^'"\n]*?)(?<!\.d)\.ts\1/g

/** A module's or declaration file's text with its relative `.ts` specifiers turned into `.js`. */
export function rewriteSpecifiers (text: string): string {
  return text.replace(TS_SPECIFIER, '$1$2.js$1')
}

/** Paths under `dir`, relative to it, of the files whose names end with `suffix`. */
function * filesEndingWith (dir: string, suffix: string, under = ''): Generator<string> {
  for (const entry of readdirSync(join(dir, under), { withFileTypes: true })) {
    const path = join(under, entry.name)
    if (entry.isDirectory()) yield * filesEndingWith(dir, suffix, path)
    else if (entry.name.endsWith(suffix)) yield path
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
  const src = join(root, 'src')
  for (const js of filesEndingWith(src, '.js')) {
    const dts = js.replace(/\.js$/, '.d.ts')
    for (const path of existsSync(join(src, dts)) ? [js, dts] : [js]) {
      mkdirSync(dirname(join(dist, path)), { recursive: true })
      writeFileSync(join(dist, path), rewriteSpecifiers(readFileSync(join(src, path), 'utf8')))
    }
  }
  for (const path of filesEndingWith(dist, '.d.ts')) {
    const text = readFileSync(join(dist, path), 'utf8')
    const rewritten = rewriteSpecifiers(text)
    if (rewritten !== text) writeFileSync(join(dist, path), rewritten)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) build()
