/**
 * `npm run bundle` (and `npm install`, through `prepare`): the `framehub` command of this checkout
 * as a few JavaScript files, so that a command starts without Node's module loader resolving,
 * reading and linking the 150 to 200 modules it needs one by one (about half of a one-shot
 * command's time: `init`, `commit`, `frame get`). `bin/framehub.js` runs the bundle when it is
 * newer than every source it was made of (`bundleIsFresh`), and src/cli/main.ts otherwise, so an
 * edited source is never shadowed by an old bundle.
 *
 * What esbuild is told, and why:
 * - every module keeps its own `import.meta.url` (the source file's), so that the paths the
 *   sources make from it (package.json, schemas/, ui/, the compile cache) are what they are in
 *   the sources;
 * - the import worker is a second entry (`import-worker.js`), which the bundled import pool
 *   spawns (`bundledWorker`);
 * - `node.ts` loads its service modules with a computed `require`, which no bundler follows: here
 *   it becomes a `require` per service, each evaluated on first use as before;
 * - only the packages a one-shot command loads are bundled (BUNDLED); every other package (the
 *   network, the gateway, native and worker-thread code that finds files next to itself) is
 *   loaded from node_modules as usual.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
/** Where the bundle goes. */
export const BUNDLE_DIR = join(root, 'node_modules', '.cache', 'framehub', 'bundle')

/**
 * Packages bundled: pure JavaScript that locates nothing on disk, and classic-level, whose native
 * addon is located when the bundle is made (`classicLevelAddon`).
 */
const BUNDLED = new Set(['commander', 'multiformats', 'cborg', '@ipld/dag-cbor', '@ipld/dag-json', '@ipld/dag-pb', 'abstract-level', 'level-transcoder', 'level-supports', 'module-error', 'maybe-combine-errors', 'level', 'classic-level'])

function packageOf (specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] as string
}

/** Each source module's `import.meta.url` is its own file's URL, made relative to the bundle's (in `outdir`). */
const ownImportMetaUrl = (outdir: string): Plugin => ({
  name: 'own-import-meta-url',
  setup (build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.(ts|js)$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8')
      if (text.includes('import.meta.url')) {
        const from = relative(outdir, args.path).split(sep).join('/')
        text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(from)}, import.meta.url).href`)
        if (args.path === WORKER_SPAWN) text = bundledWorker(text, from)
      }
      if (args.path === join(root, 'src', 'node.ts')) text = staticServices(text)
      return { contents: text, loader: args.path.endsWith('.ts') ? 'ts' : 'js' }
    })
  }
})

const WORKER_SPAWN = join(root, 'src', 'services', 'import-worker-spawn.ts')

/**
 * The import pool spawns the bundle's worker entry (`import-worker.js`, beside every chunk), not
 * the sources' one: a worker then loads its code as the bundle's chunks, from the compile cache,
 * as the main thread does, instead of resolving and loading some 40 TypeScript modules one by one.
 * `text` has its `import.meta.url` made the source file's (`from`) already; the worker's URL is
 * made from the chunk's own.
 */
function bundledWorker (text: string, from: string): string {
  const sourceEntry = `new URL('./import-worker-start.js', new URL(${JSON.stringify(from)}, import.meta.url).href)`
  if (!text.includes(sourceEntry)) throw new Error('bundle: import-worker-spawn.ts no longer spawns its worker as scripts/bundle.ts expects')
  return text.replace(sourceEntry, "new URL('./import-worker.js', import.meta.url)")
}

/** `node.ts` with a literal `require` of each service it names, in place of the computed one. */
function staticServices (text: string): string {
  const names = [...new Set([...text.matchAll(/services<[^>]*>\('([a-z-]+)'\)/g)].map(m => m[1] as string))]
  const computed = /function services<T> \(name: string\): T \{\n\s*return load\([^\n]*\n\}/
  if (!computed.test(text) || names.length === 0) throw new Error('bundle: node.ts no longer loads its services as scripts/bundle.ts expects')
  const cases = names.map(n => `    case ${JSON.stringify(n)}: return require(${JSON.stringify(`./services/${n}.ts`)}) as T`).join('\n')
  return text.replace(computed, `function services<T> (name: string): T {\n  switch (name) {\n${cases}\n    default: throw new Error('no service ' + name)\n  }\n}`)
}

/**
 * classic-level's `binding.js` finds its native addon with node-gyp-build (a look through its
 * prebuilds at every start); in the bundle it is a `require` of the addon node-gyp-build finds
 * when the bundle is made, on the machine it is made for (npm install makes it). Loaded from
 * node_modules, classic-level and abstract-level were some 25 CommonJS modules, about 20 ms of
 * every command's start. The addons are listed in `addons` (the bundle's inputs).
 */
const classicLevelAddon = (outdir: string, addons: string[]): Plugin => ({
  name: 'classic-level-addon',
  setup (build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]classic-level[\\/]binding\.js$/ }, (args) => {
      const dir = dirname(args.path)
      const nodeGypBuild = createRequire(join(dir, 'package.json'))('node-gyp-build') as { path: (dir: string) => string }
      const addon = nodeGypBuild.path(dir)
      addons.push(addon)
      const from = relative(outdir, addon).split(sep).join('/')
      return { contents: `module.exports = require(${JSON.stringify(from.startsWith('.') ? from : `./${from}`)})`, loader: 'js' }
    })
    build.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, external: true }))
  }
})

/** Packages outside BUNDLED stay imports of node_modules. */
const externalPackages: Plugin = {
  name: 'external-packages',
  setup (build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true }
      return BUNDLED.has(packageOf(args.path)) ? undefined : { path: args.path, external: true }
    })
  }
}

/**
 * The bundle in `dir` is there and every file it was made of still has the modification time it
 * had: what bin/framehub.js checks before it runs the bundle (bin has its own copy: the
 * installed package has no scripts/).
 */
export function bundleIsFresh (dir = BUNDLE_DIR): boolean {
  try {
    const inputs = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8')) as Record<string, number>
    for (const [path, mtime] of Object.entries(inputs)) {
      if (statSync(join(root, path), { throwIfNoEntry: false })?.mtimeMs !== mtime) return false
    }
    return statSync(join(dir, 'cli.js'), { throwIfNoEntry: false }) !== undefined
  } catch {
    return false
  }
}

/** Bundles the CLI into `outdir` (its entries: `cli.js`, `import-worker.js`), with the list of its inputs (`inputs.json`). */
export async function bundle (outdir = BUNDLE_DIR): Promise<void> {
  const { build } = await import('esbuild')
  const addons: string[] = []
  rmSync(outdir, { recursive: true, force: true })
  mkdirSync(outdir, { recursive: true })
  const result = await build({
    entryPoints: { cli: join(root, 'src', 'cli', 'main.ts'), 'import-worker': join(root, 'src', 'services', 'import-worker.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    metafile: true,
    logLevel: 'warning',
    // `require` of a bundled module becomes a call; of anything else, Node's own.
    banner: { js: "import { createRequire as __framehubRequire } from 'node:module'; const require = __framehubRequire(import.meta.url);" },
    plugins: [externalPackages, ownImportMetaUrl(outdir), classicLevelAddon(outdir, addons)]
  })
  const inputs: Record<string, number> = {}
  for (const input of [...Object.keys(result.metafile.inputs), ...addons.map(a => relative(root, a))]) {
    const path = join(root, input)
    inputs[relative(root, path)] = statSync(path).mtimeMs
  }
  inputs['package.json'] = statSync(join(root, 'package.json')).mtimeMs
  // ES modules: under node_modules no package.json above says so, and Node would try each chunk
  // as CommonJS first (`containsModuleSyntax`).
  writeFileSync(join(outdir, 'package.json'), JSON.stringify({ type: 'module' }) + '\n')
  // The sources it was made of and their modification times: what bin/framehub.js checks.
  writeFileSync(join(outdir, 'inputs.json'), JSON.stringify(inputs))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  bundle().catch((err: unknown) => {
    // `--optional` (npm install's `prepare`): an install without the bundle still works, on the sources.
    const optional = process.argv.includes('--optional')
    process.stderr.write(`bundle: ${(err as Error).message}${optional ? ' (the framehub command runs the sources)' : ''}\n`)
    process.exit(optional ? 0 : 1)
  })
}
