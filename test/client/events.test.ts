import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { connectNode } from '../../src/client/index.ts'
import { createGateway } from '../../src/http/app.ts'
import { createNode } from '../../src/node.ts'
import type { NodeEvent } from '../../src/services/events.ts'

/** Resolves with the first event `pick` accepts, or rejects after `ms`. */
function next (seen: NodeEvent[], pick: (e: NodeEvent) => boolean, ms = 15_000): Promise<NodeEvent> {
  const deadline = Date.now() + ms
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const found = seen.find(pick)
      if (found != null) { resolve(found); return }
      if (Date.now() > deadline) { reject(new Error(`no such event within ${ms} ms (seen: ${seen.map(e => e.type).join(', ')})`)); return }
      setTimeout(poll, 20)
    }
    poll()
  })
}

test('the daemon client\'s events: its writes arrive as the node\'s events, again after the daemon restarts, and stop with the last listener', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'framehub-events-'))
  const node = await createNode({ repo: join(dir, 'repo'), create: true })
  let app = await createGateway(node, { logger: false, underPressure: false, rateLimit: false })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const port = Number(new URL(url).port)
  try {
    const remote = await connectNode({ url, token: node.repo.config.apiToken })
    const seen: NodeEvent[] = []
    const stop = remote.events.subscribe((e) => { seen.push(e) })
    // The stream opens with the first listener: write until its event comes back.
    let put = await remote.frames.put({ id: 'e/one', kind: 'fact' })
    const cid = put.cid.toString()
    for (let i = 0; i < 50 && !seen.some(e => e.type === 'frame:put'); i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      put = await remote.frames.put({ id: 'e/one', kind: 'fact' })
    }
    const first = await next(seen, e => e.type === 'frame:put')
    assert.deepEqual(first.detail, { id: 'e/one', cid, branch: 'main' })
    assert.equal(typeof first.time, 'number')
    assert.ok(first.id > 0)

    // The daemon goes away and comes back on the same port: the stream opens again by itself.
    // A graceful close ends the open event stream (it does not wait on it).
    await app.close()
    app = await createGateway(node, { logger: false, underPressure: false, rateLimit: false })
    await app.listen({ host: '127.0.0.1', port })
    const step = await node.traces.append('e/session', { op: 'thought', content: 'again' })
    for (let i = 0; i < 100 && !seen.some(e => e.type === 'step:append'); i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      if (!seen.some(e => e.type === 'step:append')) await node.traces.append('e/session', { op: 'thought', content: i })
    }
    const appended = await next(seen, e => e.type === 'step:append')
    assert.equal((appended.detail as { session: string }).session, 'e/session')
    assert.ok(step.cid != null)

    // The last listener gone, the stream closes: the gateway has no event stream open.
    stop()
    let open = 1
    for (let i = 0; i < 100 && open > 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 50))
      open = app.framehub.streams.open
    }
    assert.equal(open, 0)
  } finally {
    await app.close()
    await node.close()
    await rm(dir, { recursive: true, force: true })
  }
})
