import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

async function * sources (dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * sources(path)
    else if (entry.name.endsWith('.ts')) yield path
  }
}

/** Every module a source file imports: static, type-only, re-exports and dynamic `import()`. */
export function importsOf (text: string): string[] {
  const found: string[] = []
  for (const m of text.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) found.push(m[1] as string)
  return found
}

/** The src/storage modules the files under `layer` import, as `file → module`. */
async function storageImports (layer: string): Promise<string[]> {
  const out: string[] = []
  for await (const file of sources(join(SRC, layer))) {
    for (const spec of importsOf(await readFile(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue
      const target = relative(SRC, join(file, '..', spec))
      if (target.startsWith('storage/')) out.push(`${relative(SRC, file)} → ${target}`)
    }
  }
  return out
}

test('importsOf sees static, type-only, re-exported and dynamic imports', () => {
  const text = [
    "import { a } from '../storage/a.ts'",
    "import type { B } from '../storage/b.ts'",
    "export { c } from '../storage/c.ts'",
    "const { d } = await import('../storage/d.ts')",
    "const [e] = await Promise.all([import(\n  '../storage/e.ts')])"
  ].join('\n')
  assert.deepEqual(importsOf(text), ['../storage/a.ts', '../storage/b.ts', '../storage/c.ts', '../storage/d.ts', '../storage/e.ts'])
})

test('no file of the gateway (src/http) imports from src/storage: routes go through the services', async () => {
  assert.deepEqual(await storageImports('http'), [])
})

test('the CLI (src/cli) imports from src/storage only where a repository or a running daemon is found on disk, and where init makes one', async () => {
  // Finding the repository directory and a daemon's API address comes before any node is open;
  // `init` makes the repository, which no node can open before it exists.
  const allowed = new Set(['storage/repo-path.ts', 'storage/api-file.ts', 'storage/repo-create.ts'])
  const reaching = (await storageImports('cli')).filter(line => !allowed.has(line.split(' → ')[1] as string))
  assert.deepEqual(reaching, [])
})

test('no file of the gateway reads or writes the repository\'s state, database or Helia directly', async () => {
  // State writes must go through a service (write lock, WriteBatch); reads of state through one too.
  const direct: string[] = []
  for await (const file of sources(join(SRC, 'http'))) {
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(/\.repo\.(db|state|batch|journal|helia)\b/g)) direct.push(`${relative(SRC, file)}: ${m[0]}`)
  }
  assert.deepEqual(direct, [])
})
