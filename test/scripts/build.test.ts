import assert from 'node:assert/strict'
import { it } from 'node:test'
import { rewriteSpecifiers } from '../../scripts/build.ts'

it('the build rewrites relative .ts specifiers to .js, and nothing else', () => {
  assert.equal(rewriteSpecifiers('import type { A } from \'./a.ts\';\nexport * from "../b/c.ts";\nlet x: import(\'./d.ts\').D;'),
    'import type { A } from \'./a.js\';\nexport * from "../b/c.js";\nlet x: import(\'./d.js\').D;')
  for (const unchanged of [
    'import type { E } from \'./e.d.ts\'', // a declaration file named as such
    'import { f } from \'f.ts\'', // a package, not a relative path
    'import { g } from \'./g.tsx\'',
    'import { h } from \'./h.js\'',
    'const s = \'./i.ts" + \'', // quotes that do not match
    'import { j } from \'./j.ts\n\''
  ]) assert.equal(rewriteSpecifiers(unchanged), unchanged)
})
