/**
 * The explorer on a real daemon: a node on loopback (libp2p on 127.0.0.1, a network of its own)
 * with its gateway listening on 127.0.0.1, seeded through the API; and Debian's Chromium driven
 * by playwright-core. Shared by the browser test, the README screenshots and the bench.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium } from 'playwright-core'
import type { BrowserContext } from 'playwright-core'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { FramehubNode } from '../../src/node.ts'

/** Where Chromium is: CHROMIUM_PATH, else Debian's package. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Why the browser tests cannot run here, or undefined when they can. */
export function noBrowser (): string | undefined {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}: "apt-get install chromium" (Debian) or set CHROMIUM_PATH to run the explorer's browser tests`
  return undefined
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export interface Browser { context: BrowserContext, close: () => Promise<void> }

/** Chromium with a fresh profile (deleted on close). */
export async function launchBrowser (): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'framehub-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
    timeout: 60_000
  })
  return {
    context,
    close: async () => {
      // Bounded: a browser that does not close is killed with its process group by playwright's own handler at exit.
      await Promise.race([context.close().catch(() => {}), new Promise(resolve => setTimeout(resolve, 30_000).unref())])
      await rm(profile, { recursive: true, force: true })
    }
  }
}

export interface Explorer {
  node: FramehubNode
  app: FastifyInstance
  token: string
  /** http://127.0.0.1:PORT */
  base: string
  close: () => Promise<void>
}

/** A node on a fresh repository with its gateway listening on 127.0.0.1 (port picked by the OS). */
export async function startExplorer (options: { online?: boolean } = {}): Promise<Explorer> {
  const dir = await mkdtemp(join(tmpdir(), 'framehub-explorer-'))
  const online = options.online ?? true
  const node = await createNode({
    repo: dir,
    create: true,
    network: online ? { listen: ['/ip4/127.0.0.1/tcp/0'], network: `explorer-${process.pid}`, autoPublish: false } : undefined
  })
  const app = await createGateway(node, { logger: false, underPressure: false, rateLimit: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address == null || typeof address === 'string') throw new Error('the gateway has no TCP address')
  return {
    node,
    app,
    token: node.repo.config.apiToken,
    base: `http://127.0.0.1:${address.port}`,
    close: async () => {
      // Event streams and keep-alive connections of a browser still open must not hold the close.
      app.server.closeAllConnections()
      await app.close()
      await node.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
