import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { FramehubError } from '../../src/core/errors.ts'
import type { Code } from '../../src/core/errors.ts'
import { TreeError } from '../../src/core/tree/errors.ts'
import { installErrorHandlers } from '../../src/http/errors.ts'

describe('gateway error handler', () => {
  let app: FastifyInstance
  before(async () => {
    app = Fastify({ logger: false })
    installErrorHandlers(app)
    app.get('/node-error', async () => Buffer.alloc(-1))
    app.get('/fs-error', async () => await readFile('no\u0000such file'))
    app.get('/tree-error', async () => { throw new TreeError('a child at the wrong level', { cid: 'bafy' }) })
    app.get('/copy-error', async () => {
      const copy = await import(`../../src/core/errors.ts?copy=${Date.now()}`) as typeof import('../../src/core/errors.ts')
      throw new copy.RefNotFoundError('no branch "x"')
    })
    app.get('/future-code', async () => { throw new FramehubError('ERR_FROM_THE_FUTURE' as Code, 'a secret of the newer node') })
    await app.ready()
  })
  after(async () => { await app.close() })

  it("answers Node's own ERR_ errors as 500 ERR_INTERNAL, without their code, message or stack", async () => {
    for (const url of ['/node-error', '/fs-error']) {
      const res = await app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 500, url)
      assert.deepEqual(res.json(), { code: 'ERR_INTERNAL', message: 'internal error' }, url)
      assert.doesNotMatch(res.body, /ERR_OUT_OF_RANGE|ERR_INVALID_ARG|at /)
    }
  })

  it('answers a TreeError and an error of another copy of the module by their code', async () => {
    const tree = await app.inject({ method: 'GET', url: '/tree-error' })
    assert.equal(tree.statusCode, 422)
    assert.deepEqual(tree.json(), { code: 'ERR_TREE_INVALID', message: 'a child at the wrong level', details: { cid: 'bafy' } })
    const copy = await app.inject({ method: 'GET', url: '/copy-error' })
    assert.equal(copy.statusCode, 404)
    assert.deepEqual(copy.json(), { code: 'ERR_REF_NOT_FOUND', message: 'no branch "x"' })
  })

  it('answers a code outside the registry as 500 without its message', async () => {
    const res = await app.inject({ method: 'GET', url: '/future-code' })
    assert.equal(res.statusCode, 500)
    assert.deepEqual(res.json(), { code: 'ERR_FROM_THE_FUTURE', message: 'internal error' })
  })
})
