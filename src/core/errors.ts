/**
 * The layers that raise a code: `core` (the domain: core, storage and the services over them),
 * `http` (the gateway itself), `client` (src/client: the CLI's HTTP clients of a daemon and of a
 * pinning service), `cli` (a command's
 * own checks), `network` (libp2p and the sync protocol, a peer's answers included).
 */
export type Layer = 'core' | 'http' | 'client' | 'cli' | 'network'

/**
 * The one registry of error codes: every code framehub raises, and the layers that raise it.
 * Codes are stable: clients, scripts and peers match on them. The HTTP status table
 * (`statusOfCode`, src/http/errors.ts) and the CLI exit table (src/cli/exit-codes.ts) are declared
 * `satisfies Record<Code, …>`, so a code added here without a status or an exit code fails `tsc`.
 */
export const CODES = {
  ERR_JSON_INVALID: ['core', 'http', 'client'],
  ERR_FRAME_INVALID: ['core'],
  ERR_TRACE_STEP_INVALID: ['core'],
  /** An OpenTelemetry (OTLP) trace export that does not decode or holds invalid spans. */
  ERR_OTLP_INVALID: ['core'],
  ERR_COMMIT_INVALID: ['core'],
  ERR_BLOCK_INVALID: ['core'],
  ERR_BLOCK_NOT_FOUND: ['core', 'network'],
  ERR_BLOCK_CORRUPT: ['core'],
  ERR_CID_INVALID: ['core', 'http'],
  ERR_SIGNATURE_INVALID: ['core'],
  ERR_REF_NOT_FOUND: ['core'],
  ERR_REF_INVALID: ['core'],
  ERR_REF_EXISTS: ['core'],
  ERR_FRAME_NOT_FOUND: ['core'],
  ERR_SESSION_NOT_FOUND: ['core'],
  ERR_LINK_UNRESOLVED: ['core'],
  ERR_NOTHING_TO_COMMIT: ['core'],
  ERR_REPO_EXISTS: ['core'],
  ERR_REPO_NOT_FOUND: ['core'],
  /** A write whose precondition failed: the frame's current version is not the one the writer read (`--if-match`, `If-Match`, `If-None-Match`). */
  ERR_CONFLICT: ['core'],
  ERR_REPO_LOCKED: ['core'],
  ERR_REPO_CORRUPT: ['core'],
  ERR_CAR_INVALID: ['core'],
  ERR_DAG_INCOMPLETE: ['core'],
  ERR_USAGE: ['core', 'cli', 'client', 'network'],
  ERR_FILE_NOT_FOUND: ['cli'],
  ERR_FILE_WRITE: ['cli'],
  ERR_NETWORK_OFFLINE: ['core'],
  ERR_PEER_UNREACHABLE: ['network'],
  ERR_SYNC_PROTOCOL: ['network'],
  /** What a serving peer answers on the sync protocol when a request fails for a reason without a code of its own. */
  ERR_SYNC_FAILED: ['network'],
  ERR_COHERENCE: ['core'],
  ERR_PAYLOAD_TOO_LARGE: ['core', 'http', 'network'],
  /** src/core/tree/errors.ts */
  ERR_TREE_INVALID: ['core'],
  ERR_TREE_INPUT_INVALID: ['core'],
  ERR_VALIDATION: ['http', 'client'],
  ERR_BAD_REQUEST: ['http'],
  ERR_UNAUTHORIZED: ['http', 'client'],
  ERR_HOST_NOT_ALLOWED: ['http'],
  ERR_NOT_FOUND: ['http', 'client'],
  ERR_METHOD_NOT_ALLOWED: ['http'],
  ERR_NOT_ACCEPTABLE: ['http'],
  ERR_UNSUPPORTED_MEDIA_TYPE: ['http'],
  ERR_RANGE_NOT_SATISFIABLE: ['http'],
  ERR_PRECONDITION_FAILED: ['http'],
  ERR_RATE_LIMITED: ['http', 'client'],
  ERR_OVERLOADED: ['http', 'client'],
  ERR_TIMEOUT: ['http', 'client'],
  ERR_INTERNAL: ['http', 'client'],
  /** The daemon holding the repository cannot be reached (not running, or gone mid-command). */
  ERR_DAEMON_UNREACHABLE: ['client'],
  ERR_PIN_NOT_FOUND: ['http', 'client'],
  /** `pin remote`: the pinning service cannot be reached or is unavailable (502, 503, 504). */
  ERR_PIN_SERVICE_UNREACHABLE: ['client'],
  /** `pin remote`: the pinning service answered something else than the spec allows. */
  ERR_PIN_SERVICE: ['client'],
  /** `pin remote add`: the pinning service could not make the pin (its status is `failed`). */
  ERR_PIN_FAILED: ['cli']
} as const satisfies Record<`ERR_${string}`, readonly Layer[]>

/** A stable framehub error code. */
export type Code = keyof typeof CODES

/** True if `code` is a code of the registry (a peer or a daemon may send anything). */
export function isCode (code: unknown): code is Code {
  return typeof code === 'string' && Object.hasOwn(CODES, code)
}

/**
 * Marks framehub's errors. `Symbol.for`, so an error made by another copy of this module (another
 * version of framehub in the same process) is still recognised: errors are recognised by shape.
 */
const BRAND = Symbol.for('framehub.error')

/**
 * Every error a user can cause has its own class with a stable `code`.
 * Callers match on `code`, never on `instanceof` (two copies of a module may coexist).
 * The HTTP layer maps codes to status codes and the CLI maps them to exit codes, each in one table.
 */
export class FramehubError extends Error {
  readonly code: Code
  /** Extra machine-readable context (a path, a line number, a CID). */
  readonly details?: Record<string, unknown>

  constructor (code: Code, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    if (details !== undefined) this.details = details
  }
}
// On the prototype, not enumerable: inspection and JSON of an error stay as they were.
Object.defineProperty(FramehubError.prototype, BRAND, { value: true })

function errorClass (name: string, code: Code) {
  const cls = class extends FramehubError {
    static readonly code = code
    constructor (message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
      super(code, message, details, options)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

export const InvalidJsonError = errorClass('InvalidJsonError', 'ERR_JSON_INVALID')
export const FrameInvalidError = errorClass('FrameInvalidError', 'ERR_FRAME_INVALID')
export const TraceStepInvalidError = errorClass('TraceStepInvalidError', 'ERR_TRACE_STEP_INVALID')
export const OtlpInvalidError = errorClass('OtlpInvalidError', 'ERR_OTLP_INVALID')
export const CommitInvalidError = errorClass('CommitInvalidError', 'ERR_COMMIT_INVALID')
export const BlockInvalidError = errorClass('BlockInvalidError', 'ERR_BLOCK_INVALID')
export const BlockNotFoundError = errorClass('BlockNotFoundError', 'ERR_BLOCK_NOT_FOUND')
export const BlockCorruptError = errorClass('BlockCorruptError', 'ERR_BLOCK_CORRUPT')
export const CidInvalidError = errorClass('CidInvalidError', 'ERR_CID_INVALID')
export const SignatureInvalidError = errorClass('SignatureInvalidError', 'ERR_SIGNATURE_INVALID')
export const RefNotFoundError = errorClass('RefNotFoundError', 'ERR_REF_NOT_FOUND')
export const RefInvalidError = errorClass('RefInvalidError', 'ERR_REF_INVALID')
export const RefExistsError = errorClass('RefExistsError', 'ERR_REF_EXISTS')
export const FrameNotFoundError = errorClass('FrameNotFoundError', 'ERR_FRAME_NOT_FOUND')
export const SessionNotFoundError = errorClass('SessionNotFoundError', 'ERR_SESSION_NOT_FOUND')
export const LinkUnresolvedError = errorClass('LinkUnresolvedError', 'ERR_LINK_UNRESOLVED')
export const NothingToCommitError = errorClass('NothingToCommitError', 'ERR_NOTHING_TO_COMMIT')
export const RepoExistsError = errorClass('RepoExistsError', 'ERR_REPO_EXISTS')
export const RepoNotFoundError = errorClass('RepoNotFoundError', 'ERR_REPO_NOT_FOUND')
export const RepoLockedError = errorClass('RepoLockedError', 'ERR_REPO_LOCKED')
/** A conditional write refused: the frame's current version on the branch is not the expected one. */
export const ConflictError = errorClass('ConflictError', 'ERR_CONFLICT')
export const RepoCorruptError = errorClass('RepoCorruptError', 'ERR_REPO_CORRUPT')
export const CarInvalidError = errorClass('CarInvalidError', 'ERR_CAR_INVALID')
export const DagIncompleteError = errorClass('DagIncompleteError', 'ERR_DAG_INCOMPLETE')
export const UsageError = errorClass('UsageError', 'ERR_USAGE')
export const FileNotFoundError = errorClass('FileNotFoundError', 'ERR_FILE_NOT_FOUND')
/** An output file could not be written to the end (disk full, I/O error). */
export const FileWriteError = errorClass('FileWriteError', 'ERR_FILE_WRITE')
export const NetworkOfflineError = errorClass('NetworkOfflineError', 'ERR_NETWORK_OFFLINE')
export const PeerUnreachableError = errorClass('PeerUnreachableError', 'ERR_PEER_UNREACHABLE')
/** A peer broke the sync protocol: bad request or answer, oversized, stalled. */
export const SyncProtocolError = errorClass('SyncProtocolError', 'ERR_SYNC_PROTOCOL')
export const CoherenceError = errorClass('CoherenceError', 'ERR_COHERENCE')
/** Input larger than framehub accepts: a block over MAX_BLOCK_BYTES, a JSON text or upload over its limit. */
export const PayloadTooLargeError = errorClass('PayloadTooLargeError', 'ERR_PAYLOAD_TOO_LARGE')

/**
 * True for errors a user caused (bad input, unknown names): shown as one line, no stack.
 * Recognised by the brand every FramehubError carries, not by an `ERR_` prefix: Node's own
 * errors (`ERR_INVALID_ARG_TYPE`, ...) are framehub's faults, reported as internal.
 */
export function isFramehubError (err: unknown): err is FramehubError {
  return typeof err === 'object' && err !== null &&
    (err as { [BRAND]?: unknown })[BRAND] === true &&
    typeof (err as { code?: unknown }).code === 'string'
}
