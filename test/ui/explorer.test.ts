/**
 * The explorer in a real browser: Debian's Chromium driven by playwright-core, on a daemon (a node
 * on loopback with its gateway listening) seeded with two branches, a merge that kept a fork and a
 * session of three routes. Asserts what is drawn (graph counts from the page's data attributes and
 * its Cytoscape instance, diff rows), deep links, keyboard use, live events, and no console error.
 * Screenshots go to a temp dir, or to FRAMEHUB_SCREENSHOTS_DIR (`npm run docs:screenshots`
 * writes the README's, docs/explorer-*.png).
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, afterEach, before, describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { createNode } from '../../src/node.ts'
import { launchBrowser, noBrowser, startExplorer } from './harness.ts'
import type { Browser, Explorer } from './harness.ts'
import { seed } from './seed.ts'
import type { Seeded } from './seed.ts'

// The page's globals, as the functions passed to page.evaluate / waitForFunction see them (they
// run in the browser; this program is type-checked without the DOM library).
declare const document: any
declare const location: { hash: string }

const skip = noBrowser()
if (skip != null) process.stderr.write(`explorer browser tests skipped: ${skip}\n`)

/** A shared branch published by the node: the consensus view has a decision to show. */
async function publishShared (on: Explorer): Promise<void> {
  for (const [url, payload] of [['/api/v1/branches', { name: 'shared/main', start: 'main' }], ['/api/v1/publish', { branch: 'shared/main' }]] as const) {
    const res = await on.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${on.token}` }, payload })
    assert.ok(res.statusCode < 300, `POST ${url} → ${res.statusCode} ${res.body}`)
  }
}

describe('the explorer in Chromium', { skip, timeout: 300_000 }, () => {
  let ex: Explorer
  let browser: Browser
  let page: Page
  let s: Seeded
  let shots: string
  /** Console errors and uncaught page errors; a test that expects a failed request lists its URL. */
  const problems: string[] = []
  const expected: RegExp[] = []

  /** A write through the API of the shared node, or of `on`. */
  const inject = async (method: 'POST', url: string, payload: Record<string, unknown>, on?: Explorer): Promise<any> => {
    const res = await (on ?? ex).app.inject({ method, url, headers: { authorization: `Bearer ${(on ?? ex).token}` }, payload })
    assert.ok(res.statusCode < 300, `${method} ${url} → ${res.statusCode} ${res.body}`)
    return res.json()
  }
  const open = async (hash: string, on?: Explorer): Promise<void> => {
    await page.goto(`${(on ?? ex).base}/ui/${hash}`)
    await ready()
  }
  /**
   * A test that writes commits (or stages) does it on a node of its own, seeded as the shared one,
   * so that what the other tests count on the shared node stays as seeded whatever the order.
   */
  const withOwnNode = async (use: (own: Explorer, seeded: Seeded) => Promise<void>, options: { online?: boolean } = {}): Promise<void> => {
    const own = await startExplorer(options)
    try {
      await use(own, await seed(own.app, own.token))
    } finally {
      await page.goto('about:blank').catch(() => {})
      await own.close()
    }
  }
  /** Waits for the view to finish drawing; fails on an error view. */
  const ready = async (): Promise<void> => {
    await page.waitForSelector('main[data-state="ready"], main[data-state="error"]', { timeout: 30_000 })
    const state = await page.getAttribute('main', 'data-state')
    if (state !== 'ready') assert.fail(`view error: ${await page.innerText('main')}`)
  }
  const count = async (selector: string): Promise<number> => await page.locator(selector).count()
  const shot = async (name: string, fullPage = false): Promise<void> => {
    await page.fill('#search-input', '')
    await page.evaluate(() => { document.activeElement?.blur() })
    await page.screenshot({ path: join(shots, `explorer-${name}.png`), fullPage })
  }

  before(async () => {
    shots = process.env.FRAMEHUB_SCREENSHOTS_DIR != null ? resolve(process.env.FRAMEHUB_SCREENSHOTS_DIR) : await mkdtemp(join(tmpdir(), 'framehub-explorer-shots-'))
    await mkdir(shots, { recursive: true })
    ex = await startExplorer()
    s = await seed(ex.app, ex.token)
    await publishShared(ex)
    browser = await launchBrowser()
    page = await browser.context.newPage()
    page.setDefaultTimeout(30_000)
    page.on('console', (m) => {
      if (m.type() !== 'error') return
      const where = m.location().url
      if (!expected.some(r => r.test(where))) problems.push(`console: ${m.text()} (${where})`)
    })
    page.on('pageerror', (e) => { problems.push(`page error: ${e.message}`) })
    process.stderr.write(`explorer screenshots: ${shots}\n`)
  })

  // Each test's pages log no console error (but the failed requests it expects).
  afterEach(() => { assert.deepEqual(problems.splice(0), []) })

  after(async () => {
    // Leave the page first: its event streams close before the servers do.
    await page?.goto('about:blank').catch(() => {})
    await browser?.close()
    await ex?.close()
  })

  test('the commit graph of a branch: every commit and parent link, the merge and the fork marked', async () => {
    await open('#/commits')
    assert.equal(await page.getAttribute('#commit-graph', 'data-nodes'), '6')
    assert.equal(await page.getAttribute('#commit-graph', 'data-edges'), '6')
    assert.equal(await page.getAttribute('#commit-graph', 'data-merges'), '1')
    assert.equal(await page.getAttribute('#commit-graph', 'data-forked'), '1')
    // The Cytoscape instance itself: what is on the canvas.
    const drawn = await page.evaluate(() => {
      const cy = (document.getElementById('commit-graph') as any).cy
      return { nodes: cy.nodes().length, edges: cy.edges().length, merges: cy.nodes('.merge').map((n: any) => n.id()), splits: cy.nodes('.split').length, forked: cy.nodes('.forked').map((n: any) => n.id()) }
    })
    assert.deepEqual(drawn, { nodes: 6, edges: 6, merges: [s.merge], splits: 1, forked: [s.merge] })
    assert.equal(await count('ol.list a[data-cid]'), 6)
    assert.deepEqual(await page.locator('#branches tbody tr td:first-child').allInnerTexts(), ['main', 'shared/main', 'topic/survey'])
    // The other branch: its own history (4 commits, a straight line).
    await page.selectOption('#branch', 'topic/survey')
    await page.waitForFunction(() => document.querySelector('#commit-graph')?.getAttribute('data-nodes') === '4')
    assert.equal(await page.getAttribute('#commit-graph', 'data-edges'), '3')
    assert.match(page.url(), /#\/commits\?branch=topic%2Fsurvey$/)
  })

  test('a commit by deep link: its details, the forks it kept, its diff against each parent, side by side', async () => {
    await open(`#/commit/${s.merge}`)
    await page.waitForSelector(`#commit-panel[data-cid="${s.merge}"] #diff table`)
    assert.deepEqual(await page.locator('#diff tr[data-change]').evaluateAll(rows => rows.map(r => `${r.getAttribute('data-change')} ${r.getAttribute('data-id')}`)), ['added facts/dam'])
    assert.match(await page.innerText('#forks'), /facts\/river/)
    assert.equal(await page.evaluate(() => (document.getElementById('commit-graph') as any).cy.$(':selected').id()), s.merge)
    // Against the second parent (the survey): the river changed (the merge kept the gauge's version).
    await page.selectOption('#commit-panel select', { index: 1 })
    await page.waitForSelector('#diff tr[data-change="changed"]')
    assert.deepEqual(await page.locator('#diff tr[data-change]').evaluateAll(rows => rows.map(r => `${r.getAttribute('data-change')} ${r.getAttribute('data-id')}`)), ['changed facts/river'])
    await page.click('#diff tr[data-change="changed"] button')
    await page.waitForSelector('#side-by-side .side')
    const sides = await page.locator('#side-by-side pre').allInnerTexts()
    assert.equal(sides.length, 2)
    assert.match(sides[0] as string, /River at 4\.1 m \(survey\)/)
    assert.match(sides[1] as string, /River at 3\.9 m \(gauge\)/)
    assert.ok(await count('#side-by-side .diffline') >= 2, 'the differing lines are marked')
    await shot('commits')
    // The first commit: every frame of its tree is new.
    await open(`#/commit/${s.commits[0] as string}`)
    await page.waitForSelector(`#commit-panel[data-cid="${s.commits[0] as string}"] #diff table`)
    assert.equal(await count('#diff tr[data-change="added"]'), 3)
  })

  test('keyboard: the commit list and the search box (/) lead where a click does', async () => {
    await open('#/commits?branch=main')
    const target = s.commits[1] as string
    await page.focus(`ol.list a[data-cid="${target}"]`)
    await page.keyboard.press('Enter')
    await page.waitForSelector(`#commit-panel[data-cid="${target}"]`)
    assert.match(page.url(), new RegExp(`#/commit/${target}$`))
    // The graph itself: focus, Home (the newest) then ↓ moves to the second newest commit, Enter opens it.
    await page.focus('#commit-graph')
    await page.keyboard.press('Home')
    await page.keyboard.press('ArrowDown')
    const second = await page.evaluate(() => document.querySelectorAll('ol.list a[data-cid]')[1].getAttribute('data-cid'))
    assert.equal(await page.getAttribute('#commit-graph', 'data-selected'), second)
    await page.keyboard.press('Enter')
    await page.waitForSelector(`#commit-panel[data-cid="${second as string}"]`)
    // "/" focuses the search box from anywhere but a field; a pasted CID opens what it names.
    await page.locator('body').press('Tab')
    await page.keyboard.press('/')
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'search-input')
    await page.keyboard.type(s.steps[2] as string)
    await page.keyboard.press('Enter')
    await page.waitForSelector(`#step[data-cid="${s.steps[2] as string}"]`)
    assert.match(page.url(), /#\/session\/flood%2Fresponse\?step=/)
    await ready()
  })

  test('a session: the step DAG, its three routes highlighted one at a time, a step\'s details', async () => {
    await open(`#/session/${encodeURIComponent(s.session)}`)
    assert.equal(await page.getAttribute('#session-graph', 'data-nodes'), '7')
    assert.equal(await page.getAttribute('#session-graph', 'data-edges'), '7')
    assert.equal(await page.getAttribute('#session-graph', 'data-routes'), '3')
    const shape = await page.evaluate(() => {
      const cy = (document.getElementById('session-graph') as any).cy
      return { roots: cy.nodes('.root').length, heads: cy.nodes('.head').length }
    })
    assert.deepEqual(shape, { roots: 1, heads: 2 })
    const buttons = page.locator('.routes button')
    assert.equal(await buttons.count(), 3)
    // The longest route: root → read the gauge → gauge says → conclusion (4 steps, 3 edges).
    await buttons.nth(0).focus()
    await page.keyboard.press('Enter')
    assert.equal(await buttons.nth(0).getAttribute('aria-pressed'), 'true')
    assert.equal(await page.getAttribute('#session-graph', 'data-highlighted'), '7')
    await buttons.nth(2).click()
    assert.equal(await buttons.nth(0).getAttribute('aria-pressed'), 'false')
    assert.equal(await page.getAttribute('#session-graph', 'data-highlighted'), '5')
    await page.click(`ol.list a[data-cid="${s.steps[5] as string}"]`)
    await page.waitForSelector(`#step[data-cid="${s.steps[5] as string}"]`)
    assert.match(await page.innerText('#step'), /conclusion/)
    await page.click('#step button')
    await page.waitForFunction(() => /^valid/.test(document.getElementById('signature')?.textContent ?? ''))
    await shot('session')
  })

  test('frames: filters, paging, a frame with its attachment, links and history', async () => {
    await open('#/frames')
    assert.equal(await count('tbody tr[data-id]'), 4)
    await page.fill('input[name="tag"]', 'field')
    await page.click('form.filters button[type="submit"]')
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-id]').length === 2 && location.hash.includes('tag=field'))
    await ready()
    assert.deepEqual(await page.locator('tbody tr[data-id]').evaluateAll(rows => rows.map(r => r.getAttribute('data-id'))), ['facts/river', 'plans/evacuate'])
    await open('#/frames?limit=3')
    assert.equal(await count('tbody tr[data-id]'), 3)
    await page.click('a[rel="next"]')
    await page.waitForFunction(() => location.hash.includes('cursor='))
    await ready()
    assert.deepEqual(await page.locator('tbody tr[data-id]').evaluateAll(rows => rows.map(r => r.getAttribute('data-id'))), ['plans/evacuate'])
    // Words typed in the search box search titles and bodies.
    await page.fill('#search-input', 'closed bridge')
    await page.press('#search-input', 'Enter')
    await page.waitForFunction(() => location.hash === '#/frames?q=closed%20bridge')
    await ready()
    assert.deepEqual(await page.locator('tbody tr[data-id]').evaluateAll(rows => rows.map(r => r.getAttribute('data-id'))), ['facts/bridge'])

    await open('#/frame/facts%2Friver')
    await page.waitForSelector('table[data-versions]')
    assert.equal(await page.getAttribute('table[data-versions]', 'data-versions'), '2')
    await page.waitForFunction(() => /field notes/.test(document.querySelector('section[aria-label^="Attachment"] pre')?.textContent ?? ''))
    // The reasoning behind the gauge's version: the step whose outputs name it.
    await page.waitForSelector(`table[data-versions] a[data-step="${s.steps[4] as string}"]`)
    assert.match(await page.innerText(`table[data-versions] a[data-step="${s.steps[4] as string}"]`), /gauge says 3\.9 m/)
    await shot('frame')
    // An image attachment is shown inline (served by this origin, allowed by the page's policy).
    await open('#/frame/facts%2Fbridge?ref=main~3')
    await page.waitForFunction(() => (document.querySelector('section[aria-label="Attachment bridge.png"] img')?.naturalWidth ?? 0) === 2)
    await open('#/frame/facts%2Friver')
    // Linked from: the plan links to the river's first version.
    await page.waitForSelector('#links-from ul[data-referrers="1"]')
    assert.match(await page.innerText('#links-from'), /plans\/evacuate[\s\S]*earlier version/)
    await open('#/frame/plans%2Fevacuate')
    await page.waitForFunction(() => document.querySelectorAll('#links-to ul li a[href^="#/frame/"]').length === 2)
    // A write: reverting to the first version asks for the bearer token (a wrong one is refused
    // with its code and forgotten), then stages it on the checked-out branch.
    // (On a node of its own: the staged version stays out of the shared node's working tree.)
    await withOwnNode(async (own) => {
      expected.push(/\/api\/v1\/frames\/facts%2Friver\/revert/)
      await open('#/frame/facts%2Friver', own)
      const first = await page.locator('table[data-versions] tbody tr').last().locator('td').nth(3).locator('a').getAttribute('title')
      const answers = ['not-the-token', own.token]
      const onDialog = (d: { accept: (text?: string) => Promise<void> }): void => { void d.accept(answers.shift()) }
      page.on('dialog', onDialog)
      await page.locator('table[data-versions] tbody tr').last().locator('button').click()
      await page.waitForSelector('table[data-versions] .error[data-code="ERR_UNAUTHORIZED"]')
      await page.locator('table[data-versions] tbody tr').last().locator('button').click()
      await page.waitForSelector('table[data-versions] [data-done="staged"]')
      page.off('dialog', onDialog)
      expected.pop()
      const staged = await own.app.inject({ url: '/api/v1/frames/by-id/facts/river' })
      assert.equal(staged.json().cid, first)
    })
    // A frame version by CID (as pasted): the version, with a link to its id.
    await open(`#/cid/${s.frames['facts/dam'] as string}`)
    assert.match(await page.innerText('h1'), /^Frame version/)
  })

  test('swarm: this node, the consensus decision of the shared branch, and live events without reloading', async () => await withOwnNode(async (own) => {
    await publishShared(own)
    await open('#/swarm', own)
    const section = page.locator('section[data-branch="shared/main"]')
    await section.waitFor()
    assert.match(await section.innerText(), /canonical/)
    await page.waitForSelector('main[data-live="open"]')
    const before = page.url()
    await inject('POST', '/api/v1/frames', { id: 'facts/live', kind: 'fact', title: 'written while the page is open' }, own)
    const c = await inject('POST', '/api/v1/commits', { message: 'live commit' }, own)
    await page.waitForSelector('#events li[data-type="commit"]')
    assert.match(await page.innerText('#events'), new RegExp(c.commit as string))
    assert.equal(page.url(), before)
    await shot('swarm', true)
  }))

  test('the commit graph and the session DAG redraw themselves when the node writes', async () => await withOwnNode(async (own, seeded) => {
    await open('#/commits?branch=main', own)
    await page.waitForSelector('main[data-live="open"]')
    const before = Number(await page.getAttribute('#commit-graph', 'data-nodes'))
    await inject('POST', '/api/v1/frames', { id: 'facts/later', kind: 'fact', title: 'written while the graph is open' }, own)
    const c = await inject('POST', '/api/v1/commits', { message: 'while you watch' }, own)
    await page.waitForFunction((n) => Number(document.querySelector('#commit-graph')?.getAttribute('data-nodes')) === n, before + 1)
    await page.waitForSelector(`ol.list a[data-cid="${c.commit as string}"]`)
    await open(`#/session/${encodeURIComponent(seeded.session)}`, own)
    await page.waitForSelector('main[data-live="open"]')
    const path = `/api/v1/sessions/${encodeURIComponent(seeded.session)}/steps`
    await inject('POST', path, { step: { op: 'observation', content: 'the water recedes' }, parents: [seeded.steps[6]] }, own)
    await page.waitForFunction(() => document.querySelector('#session-graph')?.getAttribute('data-nodes') === '8')
    assert.equal(await page.getAttribute('#session-graph', 'data-edges'), '8')
  }, { online: false }))

  test('a CID that names nothing, and an unknown view: an error with its code, the page still works', async () => {
    expected.push(/\/api\/v1\/commits\/bafyrei/)
    await page.goto(`${ex.base}/ui/#/cid/bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy`)
    await page.waitForSelector('main[data-state="error"] .error[data-code]')
    assert.match(await page.getAttribute('main .error', 'data-code') as string, /^ERR_(BLOCK|REF|CID)_[A-Z_]+$/)
    await page.goto(`${ex.base}/ui/#/nowhere`)
    await page.waitForSelector('main[data-state="error"] .error[data-code="ERR_NOT_FOUND"]')
    await page.click('nav a[data-nav="sessions"]')
    await ready()
    assert.equal(await count(`main table[data-rows] a[href="#/session/${encodeURIComponent(s.session)}"]`), 1)
    expected.pop()
  })

  test('a session past 300 steps is drawn in lanes (d3-dag) with its linear runs collapsed, every step and edge once expanded (click, keyboard, Show all), its routes still highlighted', async () => {
    const path = '/api/v1/sessions/long/steps'
    const first = await inject('POST', path, { step: { op: 'thought', content: 'start' } })
    const tips = [first.cid as string, first.cid as string]
    const made: string[] = [first.cid]
    // Each step is written in a later millisecond than the one before: the list's order (parents
    // first, ties by time, then CID) is then the order of writing, and the first 40 rows are the
    // root and steps 1 to 39 whatever the machine's speed.
    const nextMillisecond = async (): Promise<void> => {
      const at = Date.now()
      while (Date.now() === at) await new Promise(resolve => setTimeout(resolve, 1))
    }
    for (let i = 1; i < 320; i++) {
      await nextMillisecond()
      tips[i % 2] = (await inject('POST', path, { step: { op: 'action', content: `step ${i}` }, parents: [tips[i % 2]] })).cid
      made.push(tips[i % 2] as string)
    }
    await nextMillisecond()
    await inject('POST', path, { step: { op: 'conclusion', content: 'joined' }, parents: tips })
    await open('#/session/long')
    // The root and the first 39 steps (the first 40 rows), then each chain's other 140 steps as one
    // node, then the conclusion: 43 nodes, 43 edges (39 to the first steps, one into each run, one
    // out of each run to the conclusion).
    const attrs = async (): Promise<Record<string, string | null>> => await page.evaluate(() => {
      const g = document.getElementById('session-graph')
      return Object.fromEntries(['nodes', 'edges', 'all-nodes', 'all-edges', 'collapsed', 'highlighted'].map(k => [k, g.getAttribute(`data-${k}`)]))
    })
    assert.deepEqual(await attrs(), { nodes: '43', edges: '43', 'all-nodes': '321', 'all-edges': '321', collapsed: '2', highlighted: null })
    const layout = async (): Promise<{ lanes: number, rows: number, runs: number[] }> => await page.evaluate(() => {
      const cy = document.getElementById('session-graph').cy
      // Lanes: one row per node drawn, in the order of the list (parents first).
      const ys = cy.nodes().map((n: any) => n.position('y'))
      return { lanes: new Set(cy.nodes().map((n: any) => n.position('x'))).size, rows: new Set(ys).size, runs: cy.nodes('.run').map((n: any) => Number(/\+ (\d+) steps/.exec(n.data('label'))?.[1])) }
    })
    assert.deepEqual(await layout(), { lanes: 2, rows: 43, runs: [140, 140] })
    assert.equal(await page.evaluate(() => document.getElementById('session-graph').cy.zoom()), 1)
    assert.match(await page.innerText('button.show-all'), /^Show all 321 steps \(280 steps folded into 2 runs\)$/)
    // The list beside the graph has every step (filled after the graph's first frame).
    await page.waitForSelector('ol.list[data-items="321"]')
    assert.equal(await count('ol.list a[data-cid]'), 321)
    // Two routes: the root, one of the two chains (160 or 159 steps), the conclusion.
    assert.equal(await count('.routes button'), 2)
    const lengths = (await page.locator('.routes button').allInnerTexts()).map(t => Number(/(\d+) steps/.exec(t)?.[1])).sort()
    assert.deepEqual(lengths, [161, 162])
    await page.click('.routes button[data-route="1"]')
    const steps = Number(/(\d+) steps/.exec(await page.innerText('.routes button[data-route="1"]'))?.[1])
    // Collapsed, the route is the root and the chain's steps in the first 40 rows (20 of the longer
    // chain, 19 of the other), its run and the conclusion, and the edges between them.
    assert.equal((await attrs()).highlighted, String(2 * (steps - 140 + 1) - 1))
    assert.equal(await page.evaluate(() => document.getElementById('session-graph').cy.nodes('.run.route').length), 1)

    // The keyboard: End selects the conclusion, ↑ the run above it, Enter expands that run and
    // selects its first step; the route stays highlighted on the run's steps.
    await page.focus('#session-graph')
    await page.keyboard.press('End')
    await page.keyboard.press('ArrowUp')
    const run = await page.getAttribute('#session-graph', 'data-selected') as string
    assert.match(run, /^run:/)
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => document.getElementById('session-graph').getAttribute('data-collapsed') === '1')
    const firstOfRun = run.slice('run:'.length)
    assert.equal(await page.getAttribute('#session-graph', 'data-selected'), firstOfRun)
    assert.equal(await page.evaluate(() => document.getElementById('session-graph').cy.$(':selected').id()), firstOfRun)
    assert.deepEqual({ ...await attrs(), highlighted: null }, { nodes: String(43 - 1 + 140), edges: String(43 + 140 - 1), 'all-nodes': '321', 'all-edges': '321', collapsed: '1', highlighted: null })
    // A step inside the other run, opened from the list, expands it: every step and edge is drawn,
    // one row each, and the whole route is highlighted. Which run is above the conclusion depends
    // on the order of the chains' first folded steps: step i > 0 is on chain i % 2, so the step
    // is taken from the chain whose run is still folded.
    assert.ok(made.indexOf(firstOfRun) > 0, 'the expanded run starts at a step that was written')
    const expandedChain = made.indexOf(firstOfRun) % 2
    const hidden = made[expandedChain === 0 ? 301 : 300] as string
    await page.click(`ol.list a[data-cid="${hidden}"]`)
    await page.waitForSelector(`#step[data-cid="${hidden}"]`)
    assert.deepEqual(await attrs(), { nodes: '321', edges: '321', 'all-nodes': '321', 'all-edges': '321', collapsed: '0', highlighted: String(steps + steps - 1) })
    assert.deepEqual(await layout(), { lanes: 2, rows: 321, runs: [] })
    assert.equal(await page.evaluate(() => document.getElementById('session-graph').cy.$(':selected').id()), hidden)
    assert.equal(await page.isHidden('button.show-all'), true)

    // Show all expands every run at once; only the steps in view (and a margin) carry a drawn
    // label; End moves the view to the last step and the labels follow it.
    await page.goto('about:blank')
    await open('#/session/long')
    assert.equal((await attrs()).collapsed, '2')
    await page.click('button.show-all')
    assert.deepEqual(await attrs(), { nodes: '321', edges: '321', 'all-nodes': '321', 'all-edges': '321', collapsed: '0', highlighted: null })
    assert.deepEqual(await layout(), { lanes: 2, rows: 321, runs: [] })
    // The first and last rows: the root and the conclusion.
    const ends = (): any => {
      const cy = (document.getElementById('session-graph') as any).cy
      const nodes = cy.nodes().sort((a: any, b: any) => a.position('y') - b.position('y'))
      return { count: cy.nodes('.labelled').length, first: nodes[0].hasClass('labelled') as boolean, last: nodes[nodes.length - 1].hasClass('labelled') as boolean }
    }
    const top = await page.evaluate(ends)
    assert.ok(top.first && !top.last && top.count > 0 && top.count < 100, JSON.stringify(top))
    await page.focus('#session-graph')
    await page.keyboard.press('End')
    await page.waitForFunction(() => {
      const cy = (document.getElementById('session-graph') as any).cy
      const nodes = cy.nodes().sort((a: any, b: any) => a.position('y') - b.position('y'))
      return nodes[nodes.length - 1].hasClass('labelled') && !nodes[0].hasClass('labelled')
    })
  })

  test('a session continued on a second node: each step drawn in the colour of the node that wrote it, named in the legend and the step', async () => {
    // A second node on the same network, on loopback: it receives the session from this one,
    // continues it, and this node receives its step (chain entry, then one sync).
    const dir = await mkdtemp(join(tmpdir(), 'framehub-explorer-b-'))
    const b = await createNode({ repo: dir, create: true, network: { listen: ['/ip4/127.0.0.1/tcp/0'], network: `explorer-${process.pid}`, autoPublish: false } })
    try {
      const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
        const end = Date.now() + 45_000
        while (!await check()) {
          if (Date.now() > end) assert.fail(`timed out: ${what}`)
          await new Promise(resolve => setTimeout(resolve, 200))
        }
      }
      const heads = async (node: typeof b, session: string): Promise<string[]> => (await node.traces.heads(session).catch(() => [])).map(c => c.toString())
      const [address] = (await ex.node.swarm.id()).addresses
      await b.swarm.connect(address as string)
      const path = '/api/v1/sessions/relay/steps'
      const first = (await inject('POST', path, { step: { op: 'thought', content: 'started on the first node' } })).cid as string
      const second = (await inject('POST', path, { step: { op: 'action', content: 'still on the first node' }, parents: [first] })).cid as string
      await until('the second node has the session', async () => (await heads(b, 'relay')).includes(second))
      const third = (await b.traces.append('relay', { op: 'observation', content: 'continued on the second node' })).cid.toString()
      await until('the first node has the second node\'s step', async () => (await heads(ex.node, 'relay')).includes(third))

      await open('#/session/relay')
      assert.equal(await page.getAttribute('#session-graph', 'data-nodes'), '3')
      const writers = await page.locator('[aria-label="Nodes that wrote steps"] code').allInnerTexts()
      assert.equal(writers.length, 2)
      const short = (id: string): string => `${id.slice(0, 8)}…${id.slice(-6)}`
      assert.deepEqual([...writers].sort(), [short(ex.node.peerId), short(b.peerId)].sort())
      const colours = await page.evaluate((ids) => {
        const cy = (document.getElementById('session-graph') as any).cy
        return ids.map((id: string) => cy.getElementById(id).data('color'))
      }, [first, second, third])
      assert.equal(colours[0], colours[1])
      assert.notEqual(colours[2], colours[0])
      await page.click(`ol.list a[data-cid="${third}"]`)
      await page.waitForSelector(`#step[data-cid="${third}"]`)
      assert.match(await page.innerText('#step'), new RegExp(b.peerId))
      await page.click(`ol.list a[data-cid="${first}"]`)
      await page.waitForSelector(`#step[data-cid="${first}"]`)
      assert.match(await page.innerText('#step'), new RegExp(ex.node.peerId))
    } finally {
      await b.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('an offline node: the swarm and the remote refs say so, with no failed request', async () => {
    const off = await startExplorer({ online: false })
    try {
      await seed(off.app, off.token)
      await page.goto(`${off.base}/ui/#/swarm`)
      await ready()
      assert.match(await page.innerText('main'), /offline/)
      await page.goto(`${off.base}/ui/#/commits`)
      await ready()
      assert.equal(await page.getAttribute('#commit-graph', 'data-nodes'), '6')
      await page.waitForFunction(() => /offline: no remote heads/.test(document.querySelector('main section[aria-label="Remote refs"]')?.textContent ?? ''))
    } finally {
      await page.goto('about:blank').catch(() => {})
      await off.close()
    }
  })
})
