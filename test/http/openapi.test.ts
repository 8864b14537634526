import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import SwaggerParser from '@apidevtools/swagger-parser'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'
import { frame } from './helpers.ts'

interface Operation { parameters?: Array<{ name: string, in: string, required?: boolean }>, responses: Record<string, unknown>, security?: unknown[] }
interface Doc { openapi: string, paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, unknown> } }

/** The document's path of a Fastify route URL: `:name` → `{name}`, a trailing `*` → `{path}`. */
const docPath = (url: string): string => url.replace(/\*$/, ':path').replace(/:([A-Za-z0-9_]+)/g, '{$1}')

/** Every key of every object in `value`, recursively. */
function keysOf (value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, into)
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) { into.add(k); keysOf(v, into) }
  }
  return into
}

describe('the OpenAPI document', () => {
  let dir: string
  let node: FramehubNode
  let app: FastifyInstance
  let doc: Doc
  /** Route (method and URL pattern) → statuses it answered. */
  const answered = new Map<string, Set<number>>()

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'framehub-openapi-'))
    node = await createNode({ repo: dir, create: true })
    // A small body limit, so that 413 is reached cheaply.
    app = await createGateway(node, { logger: false, underPressure: false, bodyLimit: 64 * 1024, attachmentLimit: 64 * 1024, carImportLimit: 64 * 1024, frameImportLimit: 64 * 1024 })
    app.addHook('onResponse', (request, reply, done) => {
      // Requests that matched no route (404 and 405 answers) belong to no operation.
      if (!request.is404) {
        const key = `${request.method === 'HEAD' ? 'GET' : request.method} ${request.routeOptions.url ?? ''}`
        const set = answered.get(key) ?? new Set<number>()
        set.add(reply.statusCode)
        answered.set(key, set)
      }
      done()
    })
    await app.ready()
    doc = (await app.inject({ url: '/docs/json' })).json() as Doc
  })
  after(async () => {
    await app.close()
    await node.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('validates as OpenAPI 3 (swagger-parser), with no keyword of the type generator', async () => {
    assert.equal(doc.openapi, '3.0.3')
    // validate() dereferences in place: give it a copy.
    await SwaggerParser.validate(structuredClone(doc) as never)
    const keys = keysOf(doc)
    assert.ok(!keys.has('tsType'), 'tsType in the document')
    assert.ok(!keys.has('tsEnumNames'), 'tsEnumNames in the document')
  })

  test('path parameters are exactly those of the path, and required', () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map(m => m[1] as string).sort()
      for (const [method, op] of Object.entries(operations)) {
        const declared = (op.parameters ?? []).filter(p => p.in === 'path')
        assert.deepEqual(declared.map(p => p.name).sort(), inPath, `${method} ${path}`)
        for (const p of declared) assert.equal(p.required, true, `${method} ${path}: ${p.name}`)
      }
    }
    assert.ok('/ipfs/{cid}' in doc.paths && '/ipfs/{cid}/{path}' in doc.paths)
  })

  test('errors are declared as one shared error body, at explicit statuses', () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(op.responses)) {
          assert.match(status, /^[1-5]\d\d$/, `${method} ${path}: ${status} is a range, not a status`)
          if (Number(status) < 400) continue
          const text = JSON.stringify(response)
          const ref = path.startsWith('/pins') ? 'api-pin-failure.schema.json' : 'api-error.schema.json'
          // fastify-swagger writes a shared schema as a $ref to components.schemas.
          assert.ok(text.includes(`#/components/schemas/${ref}`) || text.includes(`"${ref}`), `${method} ${path} ${status}: ${text.slice(0, 200)}`)
        }
        // What the gateway answers on every route.
        for (const status of ['403', '500', '503']) assert.ok(status in op.responses, `${method} ${path} lacks ${status}`)
        if (op.security != null) assert.ok('401' in op.responses, `${method} ${path} lacks 401`)
      }
    }
  })

  test('every status a route answers is declared (each route hit with good and bad input)', async () => {
    const token = node.repo.config.apiToken
    const auth = { authorization: `Bearer ${token}` }
    // Something to find: frames on two branches, an attachment, a session, a commit.
    const { cid: frameCid } = await node.frames.put(frame('o/a'))
    await node.frames.put(frame('o/b'))
    const commit = (await node.commits.commit({ message: 'o' })).commit.toString()
    const step = (await node.traces.append('s', { op: 'thought', content: 'x' })).cid.toString()
    const attachment = (await app.inject({ method: 'POST', url: '/api/v1/attachments?name=n.txt', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hello attachment' })).json() as { cid: string }
    const missingCid = 'bafyreia2ffjzgwyteh4k5ucezsygc4tl4lz6nx4i5xu6giylnqcqteitre'
    const pin = (await app.inject({ method: 'POST', url: '/pins', headers: auth, payload: { cid: frameCid.toString() } })).json() as { requestid: string }

    /** Values to try for each path parameter: found, missing, malformed. */
    const paramValues: Record<string, string[]> = {
      cid: [frameCid.toString(), attachment.cid, missingCid, 'not-a-cid', step],
      path: ['o/a', 'o/none', 'main', commit, 'no-such-ref', 'bad..ref', `${commit}~5`, 'side'],
      session: ['s', 'no-such-session', 'bad\u0001session'],
      requestid: [pin.requestid, 'no-such-request']
    }
    const expand = (path: string): string[] => {
      const m = /\{([^}]+)\}/.exec(path)
      if (m == null) return [path]
      const values = paramValues[m[1] as string] ?? ['x']
      return values.flatMap(v => expand(path.replace(m[0], m[1] === 'path' ? v.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(v))))
    }
    const queries = ['', '?nope=1', '?ref=no-such-ref', '?ref=main', '?branch=no-such', '?limit=0', '?cursor=junk', `?ref=${commit}`, '?format=car', '?format=raw', '?format=dag-json', '?format=car&dag-scope=all', '?from=main&to=no-such', '?dryRun=true', '?types=nope', '?limit=1&as=tree']
    const bodyQueries = ['', '?nope=1', '?branch=no-such', '?dryRun=true', '?name=x&type=text/plain']
    const bodies: Array<{ type?: string, payload?: string | Buffer }> = [
      {},
      { type: 'application/json', payload: '{}' },
      { type: 'application/json', payload: '{' },
      { type: 'application/json', payload: JSON.stringify(frame('o/c')) },
      { type: 'application/json', payload: JSON.stringify({ message: 'again' }) },
      { type: 'application/json', payload: JSON.stringify({ name: 'side' }) },
      { type: 'application/json', payload: JSON.stringify({ ref: 'side' }) },
      { type: 'application/json', payload: JSON.stringify({ branch: 'no-such' }) },
      { type: 'application/json', payload: JSON.stringify({ step: { op: 'thought', content: 'y' }, parents: [missingCid] }) },
      { type: 'application/json', payload: JSON.stringify({ cid: missingCid }) },
      { type: 'application/json', payload: JSON.stringify({ address: '/ip4/127.0.0.1/tcp/1' }) },
      { type: 'application/json', payload: Buffer.alloc(100 * 1024, 32) },
      { type: 'text/plain', payload: 'text' },
      { type: 'application/vnd.ipld.car', payload: 'not a car' },
      { type: 'application/x-ndjson', payload: `${JSON.stringify(frame('o/d'))}\n{` }
    ]
    const requests: InjectOptions[] = []
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        const upper = method.toUpperCase() as 'GET'
        for (const url of expand(path)) {
          for (const query of upper === 'GET' ? queries : bodyQueries) {
            for (const headers of [{}, auth]) {
              if (upper === 'GET') {
                requests.push({ method: upper, url: url + query, headers })
                if (url.startsWith('/ipfs/')) {
                  for (const accept of ['application/vnd.ipld.raw', 'application/vnd.ipld.car', 'text/html']) requests.push({ method: upper, url: url + query, headers: { ...headers, accept } })
                  requests.push({ method: upper, url: url + query, headers: { ...headers, accept: 'application/vnd.ipld.raw', 'cache-control': 'only-if-cached' } })
                  requests.push({ method: upper, url, headers: { ...headers, accept: 'application/vnd.ipld.raw', 'if-none-match': `"${frameCid.toString()}.raw"` } })
                }
                if (url.startsWith('/api/v1/attachments/')) {
                  for (const range of ['bytes=0-3', 'bytes=9999-', 'nonsense']) requests.push({ method: upper, url, headers: { ...headers, range } })
                }
              } else {
                for (const b of bodies) requests.push({ method: upper, url: url + query, headers: { ...headers, ...(b.type != null ? { 'content-type': b.type } : {}) }, payload: b.payload })
              }
            }
          }
        }
      }
    }
    // Event streams would stay open: only their refusals are asked for here.
    const asked = requests.filter(r => !(String(r.url).startsWith('/api/v1/events') && !String(r.url).includes('types=nope')))
    for (const request of asked) await app.inject(request)
    assert.ok(asked.length > 1000, `${asked.length} requests`)

    const undeclared: string[] = []
    const serverErrors: string[] = []
    for (const [key, statuses] of answered) {
      const [method, url] = key.split(' ') as [string, string]
      if (url === '/docs/json' || url === '/metrics' || url.startsWith('/docs')) continue
      const op = doc.paths[docPath(url)]?.[method.toLowerCase()]
      if (op == null) { if (method !== 'OPTIONS') undeclared.push(`${key}: not in the document`); continue }
      for (const status of statuses) {
        if (!(String(status) in op.responses)) undeclared.push(`${key} → ${status}`)
        if (status >= 500 && status !== 503) serverErrors.push(`${key} → ${status}`)
      }
    }
    assert.deepEqual(undeclared, [], 'statuses answered but not declared')
    assert.deepEqual(serverErrors, [])
    // The probe reached every operation of the document.
    const reached = new Set([...answered.keys()].map(k => { const [m, u] = k.split(' ') as [string, string]; return `${m.toLowerCase()} ${docPath(u)}` }))
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) assert.ok(reached.has(`${method} ${path}`), `${method} ${path} was not reached`)
    }
  })
})
