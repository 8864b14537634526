/**
 * Response serializers are compiled when a route first answers, not when the gateway starts
 * (compiling all of them was most of the daemon's start), and they serialize as Fastify's own:
 * by the route's response schema, properties it does not declare left out.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { lazySerializers } from '../../src/http/schemas.ts'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

describe('lazySerializers', () => {
  const schema = { type: 'object', properties: { id: { type: 'string' }, n: { type: 'integer' } } }
  const route = { method: 'GET', url: '/x', httpStatus: '200', schema }

  test('compiles on the first answer, once, and serializes as the stock compiler does', () => {
    let compiled = 0
    const stock = SerializerSelector()
    const counting = (externalSchemas: unknown, options: any): any => {
      const compile = stock(externalSchemas, options)
      return (r: any) => { compiled++; return compile(r) }
    }
    // The same factory, wrapped the way lazySerializers wraps the stock one.
    const factory = lazySerializers(counting)
    const serializer = factory({}, {})(route)
    assert.equal(compiled, 0, 'nothing compiled before the first answer')
    const doc = { id: 'a', n: 2, extra: 'not in the schema' }
    assert.equal(serializer(doc), stock({}, {})(route)(doc))
    assert.equal(serializer(doc), '{"id":"a","n":2}')
    serializer({ id: 'b', n: 3 })
    assert.equal(compiled, 1, 'compiled once')
  })
})
