import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { it } from 'node:test'
import { generate, generateApiTypes, generateValidators } from '../../scripts/gen-types.ts'

it('src/core/schema-types.ts matches schemas/*.json (run npm run gen:types after changing a schema)', async () => {
  const current = await readFile(new URL('../../src/core/schema-types.ts', import.meta.url), 'utf8')
  assert.equal(current, await generate())
})

it('src/core/api-types.ts matches schemas/api/*.json (run npm run gen:types after changing a schema)', async () => {
  const current = await readFile(new URL('../../src/core/api-types.ts', import.meta.url), 'utf8')
  assert.equal(current, await generateApiTypes())
})

it('src/core/schema-validators.js and .d.ts match schemas/*.json (run npm run gen:types after changing a schema)', async () => {
  const { js, dts } = generateValidators()
  assert.equal(await readFile(new URL('../../src/core/schema-validators.js', import.meta.url), 'utf8'), js)
  assert.equal(await readFile(new URL('../../src/core/schema-validators.d.ts', import.meta.url), 'utf8'), dts)
})
