import type { Code } from '../core/errors.ts'

/** Exit status per error code: scripts can tell bad input from missing data from integrity failures. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  invalidInput: 4,
  integrity: 5,
  locked: 6,
  unavailable: 7,
  /** A conditional write refused (`ERR_CONFLICT`): read the frame again and retry. */
  conflict: 8,
  internal: 70
} as const

/**
 * The exit status of every code of the registry (`tsc` fails on a missing entry). The README's
 * table of exit statuses lists the same codes (a test holds them together).
 */
export const exitOfCode = {
  ERR_USAGE: EXIT.usage,
  ERR_REF_INVALID: EXIT.usage,
  ERR_REF_EXISTS: EXIT.usage,
  ERR_REPO_EXISTS: EXIT.usage,
  ERR_NOTHING_TO_COMMIT: EXIT.failure,
  ERR_CONFLICT: EXIT.conflict,
  ERR_REPO_NOT_FOUND: EXIT.notFound,
  ERR_REF_NOT_FOUND: EXIT.notFound,
  ERR_FRAME_NOT_FOUND: EXIT.notFound,
  ERR_BLOCK_NOT_FOUND: EXIT.notFound,
  ERR_SESSION_NOT_FOUND: EXIT.notFound,
  ERR_FILE_NOT_FOUND: EXIT.notFound,
  ERR_FILE_WRITE: EXIT.failure,
  ERR_JSON_INVALID: EXIT.invalidInput,
  ERR_FRAME_INVALID: EXIT.invalidInput,
  ERR_TRACE_STEP_INVALID: EXIT.invalidInput,
  ERR_OTLP_INVALID: EXIT.invalidInput,
  ERR_TREE_INPUT_INVALID: EXIT.invalidInput,
  ERR_CID_INVALID: EXIT.invalidInput,
  ERR_CAR_INVALID: EXIT.invalidInput,
  ERR_LINK_UNRESOLVED: EXIT.invalidInput,
  ERR_BLOCK_INVALID: EXIT.integrity,
  ERR_BLOCK_CORRUPT: EXIT.integrity,
  ERR_COMMIT_INVALID: EXIT.integrity,
  ERR_TREE_INVALID: EXIT.integrity,
  ERR_SIGNATURE_INVALID: EXIT.integrity,
  ERR_DAG_INCOMPLETE: EXIT.integrity,
  ERR_NETWORK_OFFLINE: EXIT.unavailable,
  ERR_NOT_FOUND: EXIT.notFound,
  ERR_PIN_NOT_FOUND: EXIT.notFound,
  ERR_PIN_SERVICE_UNREACHABLE: EXIT.unavailable,
  ERR_PEER_UNREACHABLE: EXIT.unavailable,
  ERR_SYNC_PROTOCOL: EXIT.integrity,
  ERR_COHERENCE: EXIT.integrity,
  ERR_REPO_CORRUPT: EXIT.integrity,
  ERR_REPO_LOCKED: EXIT.locked,
  ERR_DAEMON_UNREACHABLE: EXIT.unavailable,
  ERR_TIMEOUT: EXIT.unavailable,
  ERR_OVERLOADED: EXIT.unavailable,
  ERR_UNAUTHORIZED: EXIT.usage,
  ERR_HOST_NOT_ALLOWED: EXIT.usage,
  ERR_RATE_LIMITED: EXIT.unavailable,
  ERR_BAD_REQUEST: EXIT.invalidInput,
  ERR_UNSUPPORTED_MEDIA_TYPE: EXIT.invalidInput,
  ERR_PAYLOAD_TOO_LARGE: EXIT.invalidInput,
  ERR_VALIDATION: EXIT.invalidInput,
  ERR_INTERNAL: EXIT.failure,
  ERR_METHOD_NOT_ALLOWED: EXIT.failure,
  ERR_NOT_ACCEPTABLE: EXIT.failure,
  ERR_RANGE_NOT_SATISFIABLE: EXIT.failure,
  ERR_PRECONDITION_FAILED: EXIT.failure,
  ERR_PIN_SERVICE: EXIT.failure,
  ERR_PIN_FAILED: EXIT.failure,
  ERR_SYNC_FAILED: EXIT.failure
} as const satisfies Record<Code, number>

/** The exit status of `code`; 1 (failure) for a code outside the registry (from a daemon of another version). */
export function exitCodeFor (code: string): number {
  return Object.hasOwn(exitOfCode, code) ? exitOfCode[code as Code] : EXIT.failure
}
