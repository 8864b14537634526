/**
 * Every error a user can cause has its own class with a stable `code`.
 * Callers match on `code`, never on `instanceof` (two copies of a module may coexist).
 * The HTTP layer maps codes to status codes and the CLI maps them to exit codes, each in one table.
 */
export class FramehubError extends Error {
  readonly code: string
  /** Extra machine-readable context (a path, a line number, a CID). */
  readonly details?: Record<string, unknown>

  constructor (code: string, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    if (details !== undefined) this.details = details
  }
}

function errorClass (name: string, code: string) {
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

/** True for errors a user caused (bad input, unknown names): shown as one line, no stack. */
export function isFramehubError (err: unknown): err is FramehubError {
  return typeof err === 'object' && err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (err as { code: string }).code.startsWith('ERR_') &&
    err instanceof Error
}
