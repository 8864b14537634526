/**
 * A repository for the explorer's tests, screenshots and bench: two branches, a merge of a fork
 * (a frame changed both ways), frames of several kinds and tags with an attachment and links, and
 * a reasoning session of three routes. Everything goes through the HTTP API (app.inject).
 */
import type { FastifyInstance } from 'fastify'

export interface Seeded {
  /** Commits of main, oldest first (the merge last). */
  commits: string[]
  merge: string
  session: string
  steps: string[]
  frames: Record<string, string>
}

async function call (app: FastifyInstance, token: string, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, status = 201): Promise<any> {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) })
  if (res.statusCode !== status) throw new Error(`${method} ${url} → ${res.statusCode} ${res.body}`)
  return res.json()
}

export async function seed (app: FastifyInstance, token: string): Promise<Seeded> {
  const frames: Record<string, string> = {}
  const put = async (id: string, extra: Record<string, unknown> = {}): Promise<void> => {
    const body = { id, kind: 'fact', title: `title of ${id}`, body: { text: `body of ${id}` }, ...extra }
    frames[id] = (await call(app, token, 'POST', '/api/v1/frames', body)).cid
  }
  const commit = async (message: string): Promise<string> => (await call(app, token, 'POST', '/api/v1/commits', { message })).commit
  const commits: string[] = []

  const attachment = await app.inject({ method: 'POST', url: '/api/v1/attachments?name=notes.txt&type=text/plain', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, payload: Buffer.from('field notes: the river rose 2 m overnight\n') })
  if (attachment.statusCode !== 201) throw new Error(`attachment → ${attachment.statusCode} ${attachment.body}`)
  const file = attachment.json() as { name: string, size: number, type: string, link: unknown }
  const attachments = [{ name: file.name, cid: file.link, size: file.size, type: file.type }]
  await put('facts/river', { tags: ['hydrology', 'field'], attachments })
  // A 2×2 PNG: the explorer shows image attachments inline.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGM4YSMCRAwQCgAhfgRh5kKsPwAAAABJRU5ErkJggg==', 'base64')
  const photo = await app.inject({ method: 'POST', url: '/api/v1/attachments?name=bridge.png', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' }, payload: png })
  if (photo.statusCode !== 201) throw new Error(`attachment → ${photo.statusCode} ${photo.body}`)
  const image = photo.json() as { name: string, size: number, type: string, link: unknown }
  await put('facts/bridge', { tags: ['infrastructure'], attachments: [{ name: image.name, cid: image.link, size: image.size, type: image.type }] })
  await put('plans/evacuate', { kind: 'plan', tags: ['field'], title: 'Evacuation plan', links: [{ cid: { '/': frames['facts/river'] }, rel: 'because' }, { cid: { '/': frames['facts/bridge'] }, rel: 'because' }] })
  commits.push(await commit('first observations'))
  await put('facts/bridge', { tags: ['infrastructure'], title: 'The bridge is closed' })
  commits.push(await commit('bridge closed'))

  await call(app, token, 'POST', '/api/v1/branches', { name: 'topic/survey' })
  await call(app, token, 'POST', '/api/v1/checkout', { branch: 'topic/survey' }, 200)
  await put('facts/river', { tags: ['hydrology'], title: 'River at 4.1 m (survey)' })
  await commit('survey: river level')
  await put('facts/dam', { tags: ['infrastructure'] })
  await commit('survey: the dam')
  await call(app, token, 'POST', '/api/v1/checkout', { branch: 'main' }, 200)
  const session = 'flood/response'
  const path = `/api/v1/sessions/${encodeURIComponent(session)}/steps`
  const steps: string[] = []
  const append = async (step: Record<string, unknown>, parents?: string[]): Promise<string> => {
    const r = await call(app, token, 'POST', path, parents != null ? { step, parents } : { step })
    steps.push(r.cid)
    return r.cid
  }
  await call(app, token, 'POST', '/api/v1/checkout', { branch: 'main' }, 200)
  // The reasoning behind the gauge's version of the river: a step whose outputs name it, then the commit.
  await put('facts/river', { tags: ['hydrology', 'field'], title: 'River at 3.9 m (gauge)', attachments })
  const root = await append({ op: 'thought', content: 'the river is rising' })
  const a = await append({ op: 'action', content: 'read the gauge' }, [root])
  const b = await append({ op: 'action', content: 'ask the survey team' }, [root])
  const c = await append({ op: 'action', content: 'check the dam' }, [root])
  await append({ op: 'observation', content: 'gauge says 3.9 m', outputs: [{ '/': frames['facts/river'] }] }, [a])
  commits.push(await commit('gauge: river level'))
  const merged = await call(app, token, 'POST', '/api/v1/merge', { ref: 'topic/survey', message: 'merge the survey' }, 200)
  commits.push(merged.commit)
  await append({ op: 'conclusion', content: 'evacuate the low streets' }, [steps[4] as string, b])
  await append({ op: 'observation', content: 'the dam holds' }, [c])
  return { commits, merge: merged.commit, session, steps, frames }
}
