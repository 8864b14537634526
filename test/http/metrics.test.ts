import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { AddressInfo } from 'node:net'
import { frame, harness } from './helpers.ts'
import type { Harness } from './helpers.ts'

/** The value of one series in a Prometheus text exposition, undefined when absent. */
function series (text: string, name: string, labels = ''): number | undefined {
  const escaped = `${name}${labels === '' ? '' : `{${labels}}`}`.replace(/[{}[\]()+.*?^$|\\]/g, '\\$&')
  const m = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)
  return m == null ? undefined : Number(m[1])
}

describe('/metrics says what the README says', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })
  const scrape = async (): Promise<string> => {
    const res = await h.app.inject({ url: '/metrics' })
    assert.equal(res.statusCode, 200)
    return res.body
  }

  test('process metrics are framehub_process_* (one prefix, not two)', async () => {
    const text = await scrape()
    assert.doesNotMatch(text, /framehub_process_process_/)
    assert.ok(series(text, 'framehub_process_resident_memory_bytes') !== undefined, 'framehub_process_resident_memory_bytes')
    assert.match(text, /^framehub_process_cpu_seconds_total /m)
    assert.match(text, /^framehub_nodejs_eventloop_lag_seconds /m)
  })

  test('frames, commits and block bytes are real series that follow the repository', async () => {
    let text = await scrape()
    // An empty repository: no branch head yet.
    assert.equal(series(text, 'framehub_commits'), 0)
    assert.ok((series(text, 'framehub_blocks_bytes') ?? -1) >= 0, 'framehub_blocks_bytes')

    for (const id of ['m/a', 'm/b', 'm/c']) await h.node.frames.put(frame(id))
    await h.node.commits.commit({ message: 'three' })
    text = await scrape()
    assert.equal(series(text, 'framehub_frames', 'branch="main"'), 3)
    assert.equal(series(text, 'framehub_commits'), 1)

    // Counted again from the change: one removed, two added.
    await h.node.frames.remove('m/a')
    await h.node.frames.put(frame('m/d'))
    await h.node.frames.put(frame('m/e'))
    await h.node.commits.commit({ message: 'four' })
    text = await scrape()
    assert.equal(series(text, 'framehub_frames', 'branch="main"'), 4)
    assert.equal(series(text, 'framehub_commits'), 2)

    // A second branch: its frames, and the commits it adds (shared history counted once).
    await h.node.refs.checkout('side', { create: true })
    await h.node.frames.put(frame('s/1'))
    await h.node.commits.commit({ message: 'side' })
    await h.node.refs.checkout('main')
    text = await scrape()
    assert.equal(series(text, 'framehub_frames', 'branch="side"'), 5)
    assert.equal(series(text, 'framehub_frames', 'branch="main"'), 4)
    assert.equal(series(text, 'framehub_commits'), 3)

    // Deleting the branch takes its commit out of the count, and its series away.
    await h.node.refs.deleteBranch('side')
    text = await scrape()
    assert.equal(series(text, 'framehub_frames', 'branch="side"'), undefined)
    assert.equal(series(text, 'framehub_commits'), 2)
  })
  test('routes per session: a session with three routes reads 3', async () => {
    const root = await h.node.traces.append('metrics/goal', { op: 'thought', content: 'start' })
    for (const route of ['a', 'b', 'c']) await h.node.traces.append('metrics/goal', { op: 'action', content: route }, { parents: [root.cid] })
    const text = await scrape()
    assert.equal(series(text, 'framehub_session_routes_max'), 3)
    assert.ok((series(text, 'framehub_session_routes_mean') ?? 0) >= 1)
  })

  test('consensus: convergence and conflict rate of the last decision, per shared branch', async () => {
    assert.equal(series(await scrape(), 'framehub_consensus_convergence', 'branch="shared/metrics"'), undefined)
    await h.node.refs.checkout('shared/metrics', { create: true })
    await h.node.frames.put(frame('m/consensus'))
    await h.node.commits.commit({ message: 'shared' })
    const d = await h.node.consensus.show('shared/metrics')
    assert.equal(d.convergence, 1)
    const text = await scrape()
    assert.equal(series(text, 'framehub_consensus_convergence', 'branch="shared/metrics"'), 1)
    assert.equal(series(text, 'framehub_frame_conflict_rate', 'branch="shared/metrics"'), 0)
    assert.equal(series(text, 'framehub_consensus_candidates', 'branch="shared/metrics"'), 1)
    await h.node.refs.checkout('main')
  })
})

describe('event streams: counted as clients, and capped', () => {
  let h: Harness
  let base: string
  before(async () => {
    h = await harness({ maxEventStreams: 1 })
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  })
  after(async () => { await h.close() })

  const health = async (): Promise<number> => ((await (await fetch(`${base}/health`)).json()) as { eventStreams: number }).eventStreams
  const gauge = async (): Promise<number | undefined> => series(await (await fetch(`${base}/metrics`)).text(), 'framehub_event_stream_clients')
  /** Polls until the gateway counts `n` open streams (a closed socket is seen a moment later). */
  const until = async (n: number): Promise<void> => {
    for (let i = 0; i < 500 && await health() !== n; i++) await new Promise(resolve => setTimeout(resolve, 10))
  }

  test('the node\'s own event subscribers are not clients; an open stream is, the limit answers 503', async () => {
    // The gateway's metrics (and the node's services) subscribe to the bus themselves.
    assert.ok(h.node.events.listeners >= 1)
    assert.equal(await health(), 0)
    assert.equal(await gauge(), 0)

    const first = new AbortController()
    const stream = await fetch(`${base}/api/v1/events`, { signal: first.signal })
    assert.equal(stream.status, 200)
    assert.equal(await health(), 1)
    assert.equal(await gauge(), 1)

    const refused = await fetch(`${base}/api/v1/events`)
    assert.equal(refused.status, 503)
    assert.ok(refused.headers.get('retry-after') != null)
    assert.equal(((await refused.json()) as { code: string }).code, 'ERR_OVERLOADED')

    // Closing the stream gives its slot back.
    first.abort()
    await stream.body?.cancel().catch(() => {})
    await until(0)
    assert.equal(await health(), 0)
    const again = new AbortController()
    const next = await fetch(`${base}/api/v1/events`, { signal: again.signal })
    assert.equal(next.status, 200)
    again.abort()
    await next.body?.cancel().catch(() => {})
    await until(0)
    assert.equal(await gauge(), 0)
  })

  test('a stream ended by its own limit gives its slot back', async () => {
    await until(0)
    const res = await fetch(`${base}/api/v1/events?types=frame:put&limit=1`)
    assert.equal(res.status, 200)
    const reading = res.text()
    const put = await fetch(`${base}/api/v1/frames`, { method: 'POST', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' }, body: JSON.stringify(frame('x/1')) })
    assert.equal(put.status, 201)
    assert.match(await reading, /^event: frame:put$/m)
    await until(0)
    assert.equal(await health(), 0)
  })
})
