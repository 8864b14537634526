/**
 * The keys of framehub's state and what each kind holds, and the plain encodings of state values:
 * no codec, so that a command that only makes a repository (`init`) loads none.
 */

/**
 * How a state value holds CIDs, which garbage collection keeps (and everything they reach):
 * - `'cid'`: the value is a CID's bytes;
 * - `'cids'`: the value is DAG-CBOR; every CID link in it;
 * - `'json-cids'`: the value is JSON; every string property named `cid` and every `{ "/": CID }`
 *   link in it;
 * - `false`: the value holds no block that must be kept.
 */
export type StateRoots = 'cid' | 'cids' | 'json-cids' | false

/** One kind of state key. */
export interface StateKind {
  /** `true`: keys are `<kind> <name>` (many per kind); `false`: the key is the kind's name alone. */
  named: boolean
  roots: StateRoots
  /**
   * Written without the write lock (as pin records are): garbage collection reads such keys again
   * after marking, to keep what came in meanwhile.
   */
  unlocked?: boolean
}

/**
 * Every kind of key in framehub's state, declared once: `keys` builds keys from it and garbage
 * collection marks from every kind that holds CIDs, and refuses to run when it finds a key of a
 * kind not declared here (it could not know which blocks that key holds).
 *
 * Names (branches, sessions, frame ids) never hold whitespace, so a space separates a key's kind
 * from its name and prefix scans never mix `a` with `a/b`.
 */
export const STATE_KINDS = {
  /** The repository's config (JSON). */
  config: { named: false, roots: false },
  /** The node's private key. */
  identity: { named: false, roots: false },
  /** The checked-out branch's name. */
  HEAD: { named: false, roots: false },
  /** Set while a checked import's staged blocks are being copied into the blockstore (see storage/pending.ts). */
  'import-promoting': { named: false, roots: false },
  /** A branch's head commit. */
  ref: { named: true, roots: 'cid' },
  /** Working tree of a branch: the staged frame set, when it differs from the branch's commit. */
  work: { named: true, roots: 'cid' },
  /** A session's heads (DAG-CBOR list of CIDs). */
  'session-heads': { named: true, roots: 'cids' },
  /** A session's newest step. */
  'session-head': { named: true, roots: 'cid' },
  /** Sessions appended to since the last commit: the next commit names their heads. */
  'session-dirty': { named: true, roots: false },
  /** An unresolved merge fork (DAG-CBOR: ours, theirs and the commits it names). */
  fork: { named: true, roots: 'cids' },
  /** A peer's chain (JSON `{ address, seen }`: its OrbitDB address, the newest entry processed). */
  chain: { named: true, roots: false },
  /** A peer's published head of a shared branch (remote-tracking ref), after its DAG was synced. */
  remote: { named: true, roots: 'cid' },
  /** The head of a shared branch this node last published (it passed the coherence check). */
  published: { named: true, roots: 'cid' },
  /** The consensus decision record last computed for a shared branch (it links the head and every candidate). */
  decision: { named: true, roots: 'cid' },
  /** A voting member of the network (the value is empty); with none, every announcing node votes. */
  member: { named: true, roots: false },
  /** A peer's fingerprint (JSON: seen, proposals, coherence failures), which weights its vote. */
  fingerprint: { named: true, roots: false },
  /** A pinning service request (JSON PinRecord: `pin.cid`). */
  pin: { named: true, roots: 'json-cids', unlocked: true },
  /** An attachment's name and media type (JSON; the CID is in the key, the blocks are not held). */
  attachment: { named: true, roots: false },
  /** The step an imported OpenTelemetry span became (`<trace id>/<span id>` → step CID): imports are idempotent. */
  'otlp-span': { named: true, roots: 'cid' },
  /** An imported span waiting for its parent span (DAG-CBOR: its step but the parent, and the frames it names). */
  'otlp-waiting': { named: true, roots: 'cids' }
} as const satisfies Record<string, StateKind>

/** A registry of state kinds: STATE_KINDS, or (in tests) STATE_KINDS with more. */
export type StateKinds = Readonly<Record<string, StateKind>>

/** The kind of a state key and its declaration, or undefined when `kinds` declares no such kind. */
export function stateKindOf (key: string, kinds: StateKinds = STATE_KINDS): { kind: string, declared: StateKind } | undefined {
  const space = key.indexOf(' ')
  const kind = space < 0 ? key : key.slice(0, space)
  const declared = Object.hasOwn(kinds, kind) ? kinds[kind] : undefined
  if (declared == null || declared.named !== (space >= 0)) return undefined
  return { kind, declared }
}

type NamedKind = { [K in keyof typeof STATE_KINDS]: (typeof STATE_KINDS)[K]['named'] extends true ? K : never }[keyof typeof STATE_KINDS]
type SingleKind = Exclude<keyof typeof STATE_KINDS, NamedKind>

/** The prefix of a named kind's keys. */
const prefix = (kind: NamedKind): string => `${kind} `
const single = (kind: SingleKind): string => kind

/** Keys of framehub's own state, built from STATE_KINDS. */
export const keys = {
  config: single('config'),
  identity: single('identity'),
  head: single('HEAD'),
  ref: (branch: string) => prefix('ref') + branch,
  refPrefix: prefix('ref'),
  /** Working tree of a branch: the staged frame set, when it differs from the branch's commit. */
  work: (branch: string) => prefix('work') + branch,
  sessionHeads: (session: string) => prefix('session-heads') + session,
  sessionHeadsPrefix: prefix('session-heads'),
  sessionHead: (session: string) => prefix('session-head') + session,
  /** Sessions appended to since the last commit: the next commit names their heads. */
  sessionDirty: (session: string) => prefix('session-dirty') + session,
  sessionDirtyPrefix: prefix('session-dirty'),
  fork: (branch: string, id: string, merge: string) => `${prefix('fork')}${branch} ${id} ${merge}`,
  forkPrefix: prefix('fork'),
  /** A peer's chain (JSON `{ address, seen }`: its OrbitDB address, the newest entry processed). */
  chain: (peer: string) => prefix('chain') + peer,
  chainPrefix: prefix('chain'),
  /** A peer's published head of a shared branch (remote-tracking ref), after its DAG was synced. */
  remote: (peer: string, ref: string) => `${prefix('remote')}${peer} ${ref}`,
  remotePrefix: prefix('remote'),
  /** The head of a shared branch this node last published (it passed the coherence check). */
  published: (ref: string) => prefix('published') + ref,
  /** The consensus decision record last computed for a shared branch. */
  decision: (ref: string) => prefix('decision') + ref,
  /** A voting member of the network. */
  member: (peer: string) => prefix('member') + peer,
  memberPrefix: prefix('member'),
  /** A peer's fingerprint. */
  fingerprint: (peer: string) => prefix('fingerprint') + peer,
  fingerprintPrefix: prefix('fingerprint'),
  /** A pinning service request record. */
  pin: (requestid: string) => prefix('pin') + requestid,
  pinPrefix: prefix('pin'),
  /** An attachment's metadata. */
  attachment: (cid: string) => prefix('attachment') + cid,
  /** The step an imported OpenTelemetry span became; `span` is `<trace id>/<span id>` in hex. */
  otlpSpan: (span: string) => prefix('otlp-span') + span,
  /** An imported span waiting for its parent span; `span` as for otlpSpan. */
  otlpWaiting: (span: string) => prefix('otlp-waiting') + span,
  otlpWaitingPrefix: prefix('otlp-waiting'),
  /** Set while a checked import's staged blocks are being copied into the blockstore (see storage/pending.ts). */
  importPromoting: single('import-promoting')
} as const

const encoder = new TextEncoder()

export const encodeText = (text: string): Uint8Array => encoder.encode(text)
export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
