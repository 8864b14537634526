import { FramehubError } from '../errors.ts'
import type { Code } from '../errors.ts'

/**
 * A tree node or tree structure is malformed: wrong shape, a child at the wrong level,
 * a child whose first key differs from its parent entry, or keys out of order.
 * Code `ERR_TREE_INVALID`. Callers should match on `code`, not `instanceof`.
 */
export class TreeError extends FramehubError {
  constructor (message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super('ERR_TREE_INVALID', message, details, options)
    this.name = 'TreeError'
  }
}

/**
 * Input given to a tree function is unusable: a duplicate key in `buildTree`, a key that is
 * not a well-formed string (lone surrogate), or a value that is not a CID.
 * Code `ERR_TREE_INPUT_INVALID`. A subclass of `TreeError`, so `instanceof TreeError` holds.
 */
export class TreeInputError extends TreeError {
  override readonly code: Code = 'ERR_TREE_INPUT_INVALID'

  constructor (message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, details, options)
    this.name = 'TreeInputError'
  }
}

/** A key quoted for a one-line message (JSON-escaped, truncated). */
export function quoteKey (key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)
}
