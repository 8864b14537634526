import { decodeCbor } from '../core/block.ts'
import { CoherenceError, UsageError } from '../core/errors.ts'
import { readCommit } from '../core/history.ts'
import { decodeTraceStep } from '../core/trace-step.ts'
import type { CID } from 'multiformats/cid'
import type { Network } from '../network/index.ts'
import { encodeCid, keys } from '../storage/state.ts'
import type { CallOptions, ServiceComponents } from './context.ts'
import type { Refs } from './refs.ts'
import type { VerifyService } from './verify.ts'

export interface PublishResult {
  ref?: { name: string, head: CID }
  sessions: Record<string, CID[]>
  /** Blocks the coherence check read. */
  checked: number
}

export interface PublishOptions extends CallOptions {
  branch?: string | null
  sessions?: string[]
  /**
   * Check only what was added since the head this node last published (automatic publishing
   * does). Default: the whole DAG under the head.
   */
  incremental?: boolean
}

export interface Publisher {
  /**
   * Runs the coherence check on `branch` (default: the current one, which must be `shared/*`)
   * and appends its head, and the heads of the sessions it names, to this node's chain.
   * `sessions` publishes the heads of those sessions too (or alone, with `branch: null`).
   */
  publish (options?: PublishOptions): Promise<PublishResult>
  /**
   * Stops automatic publishing; session heads still waiting are published first, and a start-up
   * catch-up still running ends after the branch it is publishing.
   */
  stop (): Promise<void>
}

export interface PublisherOptions {
  /**
   * Publish on every commit or fast-forward of a `shared/*` branch (default true), and, at start,
   * every `shared/*` branch whose head is not the one this node last published.
   */
  autoPublish?: boolean
  /** Publish session heads after appends, coalesced over this many ms (default 200; 0: never). */
  sessionPublishMs?: number
  log: { warn: (obj: object, msg: string) => void, debug?: (obj: object, msg: string) => void }
}

/** What the publisher uses. */
export type PublisherComponents = Pick<ServiceComponents, 'blocks' | 'state' | 'writeBatch' | 'events' | 'sessions'>

/**
 * Publishing on this node's chain: by hand (`publish`), and automatically on every commit or
 * fast-forward of a `shared/*` branch, at start for the branches committed to while the node was
 * offline, and after trace appends (session heads, coalesced).
 * A branch that fails the coherence check is never published.
 */
export function createPublisher (components: PublisherComponents, services: { refs: Refs, verifier: VerifyService }, network: Network, options: PublisherOptions): Publisher {
  const { blocks, state, writeBatch, events, sessions: sessionHeads } = components
  const { refs, verifier } = services
  const log = options.log
  let stopped = false
  const readStep = async (cid: CID): Promise<{ session: string }> => decodeTraceStep(cid, await blocks.get(cid))

  const decisionFor = async (branch: string, head: CID): Promise<CID | undefined> => {
    const record = await state.cid(keys.decision(branch))
    if (record == null) return undefined
    const value = decodeCbor(record, await blocks.get(record)) as { head?: unknown }
    return head.equals(value.head) ? record : undefined
  }

  const publish = async (o: PublishOptions = {}): Promise<PublishResult> => {
    const branch = o.branch === null ? undefined : o.branch ?? await refs.currentBranch()
    const out: PublishResult = { sessions: {}, checked: 0 }
    const sessionNames = new Set(o.sessions ?? [])
    if (branch != null) {
      if (!branch.startsWith('shared/')) throw new UsageError(`only shared/* branches are published, not "${branch}" (create one: framehub branch shared/${branch})`)
      const head = await refs.branchHead(branch)
      if (head == null) throw new UsageError(`branch ${branch} has no commit to publish yet`)
      // Only what was added since the last head this node published (and checked) is checked again.
      const last = o.incremental === true ? await state.cid(keys.published(branch)) : undefined
      const report = await verifier.verify(head.toString(), { ...o, since: last != null ? [last] : undefined })
      out.checked = report.blocks
      if (!report.ok) {
        throw new CoherenceError(`${branch} fails the coherence check (${report.problems.length} problems, first: ${report.problems[0]?.message ?? 'unknown'}); nothing was published`, { ref: branch })
      }
      out.ref = { name: branch, head }
      const commit = await readCommit(blocks, head)
      for (const s of commit.sessions ?? []) sessionNames.add((await readStep(s)).session)
    }
    for (const name of sessionNames) {
      const heads = (await sessionHeads.get(name))?.heads
      if (heads != null) out.sessions[name] = heads
    }
    if (out.ref == null && Object.keys(out.sessions).length === 0) throw new UsageError('nothing to publish')
    // The head this node adopted by consensus links the decision record that chose it.
    const decision = out.ref != null ? await decisionFor(out.ref.name, out.ref.head) : undefined
    const entry = network.publish({
      ...(out.ref != null ? { ref: { name: out.ref.name, head: out.ref.head.toString(), ...(decision != null ? { decision: decision.toString() } : {}) } } : {}),
      ...(Object.keys(out.sessions).length > 0 ? { sessions: Object.fromEntries(Object.entries(out.sessions).map(([k, v]) => [k, v.map(String)])) } : {})
    })
    await entry
    log.debug?.({ ref: out.ref?.name, head: out.ref?.head.toString(), sessions: Object.keys(out.sessions).length }, 'published on the chain')
    if (out.ref != null) await writeBatch().putState(keys.published(out.ref.name), encodeCid(out.ref.head)).write()
    // With --public, the published heads become findable by any IPFS node.
    if (out.ref != null) network.provide(out.ref.head)
    for (const heads of Object.values(out.sessions)) for (const h of heads) network.provide(h)
    events.publish('publish', { ref: out.ref?.name ?? null, head: out.ref?.head.toString() ?? null, sessions: Object.keys(out.sessions) })
    return out
  }

  // Automatic publishing: commits to shared/* branches, and session heads after appends (coalesced).
  const dirtySessions = new Set<string>()
  let sessionTimer: NodeJS.Timeout | undefined
  const sessionDelay = options.sessionPublishMs ?? 200
  const flushSessions = (): void => {
    sessionTimer = undefined
    const names = [...dirtySessions]
    dirtySessions.clear()
    publish({ branch: null, sessions: names }).catch((err: unknown) => { log.warn({ err: (err as Error).message, sessions: names }, 'publishing session heads failed') })
  }
  const unsubscribe = events.subscribe((e) => {
    if (stopped) return
    if (e.type === 'ref:move' && options.autoPublish !== false) {
      const move = e.detail as { ref: string, to: string | null, reason: string }
      if (move.ref.startsWith('shared/') && move.to != null && move.reason !== 'import') {
        // A fast-forward to a peer's head is published too: it is this node's proposal from now on.
        publish({ branch: move.ref, incremental: true }).catch((err: unknown) => { log.warn({ err: (err as Error).message, ref: move.ref }, 'automatic publish failed') })
      }
    } else if (e.type === 'step:append' && sessionDelay > 0) {
      dirtySessions.add((e.detail as { session: string }).session)
      sessionTimer ??= setTimeout(flushSessions, sessionDelay)
    }
  })

  // Commits made while no networked node ran on this repository (the CLI alone, a stopped
  // daemon) moved shared/* branches without an event here: at start, each shared/* branch whose
  // head differs from the head this node last published on its chain is published now, checked
  // like any automatic publish (a branch failing the check is logged and left unpublished).
  const catchUp = async (): Promise<void> => {
    for (const branch of await refs.listBranches()) {
      if (stopped) return
      if (!branch.name.startsWith('shared/')) continue
      if ((await state.cid(keys.published(branch.name)))?.equals(branch.commit) === true) continue
      await publish({ branch: branch.name, incremental: true }).catch((err: unknown) => {
        log.warn({ err: (err as Error).message, ref: branch.name }, 'publishing a branch committed while the node was offline failed')
      })
    }
  }
  const caughtUp = options.autoPublish !== false
    ? catchUp().catch((err: unknown) => { if (!stopped) log.warn({ err: (err as Error).message }, 'publishing branches committed while the node was offline failed') })
    : Promise.resolve()

  return {
    publish,
    async stop () {
      stopped = true
      unsubscribe()
      if (sessionTimer != null) { clearTimeout(sessionTimer); flushSessions() }
      await caughtUp
    }
  }
}
