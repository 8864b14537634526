import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { connectNode } from '../../src/client/index.ts'
import { createGateway } from '../../src/http/app.ts'
import type { GatewayInit } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode, NodeServices } from '../../src/node.ts'

export interface Harness {
  node: FramehubNode
  app: FastifyInstance
  token: string
  auth: { authorization: string }
  /** app.inject with the bearer token. */
  authed (options: InjectOptions): Promise<LightMyRequestResponse>
  close (): Promise<void>
}

/** A real node on a fresh temp repository and its gateway (not listening). */
export async function harness (init: GatewayInit = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'framehub-http-'))
  const node = await createNode({ repo: dir, create: true })
  // Load shedding is tested on its own: a busy test machine must not shed a test's requests.
  const app = await createGateway(node, { logger: false, underPressure: false, ...init })
  // "Never a 500": every response of every test is checked when the harness closes.
  const serverErrors: string[] = []
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 500 && reply.statusCode !== 503) serverErrors.push(`${request.method} ${request.url} → ${reply.statusCode}`)
  })
  await app.ready()
  const token = node.repo.config.apiToken
  const auth = { authorization: `Bearer ${token}` }
  return {
    node,
    app,
    token,
    auth,
    authed: async (options) => await app.inject({ ...options, headers: { ...auth, ...(options.headers ?? {}) } }),
    close: async () => {
      await app.close()
      await node.close()
      await rm(dir, { recursive: true, force: true })
      if (serverErrors.length > 0) throw new Error(`server errors: ${serverErrors.join('; ')}`)
    }
  }
}

/** The harness's gateway listening on loopback, and the daemon's client connected to it. */
export async function connectTo (h: Harness): Promise<NodeServices> {
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = h.app.server.address() as AddressInfo
  return await connectNode({ url: `http://127.0.0.1:${port}`, token: h.token })
}

/** A frame's JSON view. */
export function frame (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, kind: 'fact', title: `title of ${id}`, body: { text: `body of ${id}` }, ...extra }
}

/** Asserts a 4xx JSON error body with a stable code and returns it. */
export function errorBody (res: LightMyRequestResponse): { code: string, message: string } {
  const body = res.json() as { code?: unknown, message?: unknown }
  if (typeof body.code !== 'string' || !/^ERR_[A-Z0-9_]+$/.test(body.code) || typeof body.message !== 'string') {
    throw new Error(`not an error body: ${res.statusCode} ${res.body}`)
  }
  return body as { code: string, message: string }
}
