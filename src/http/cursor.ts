import { httpCodes, HttpError } from './errors.ts'

/* Page cursors of the list routes. */

/** Encodes a page cursor: opaque to clients (base64url JSON), checked when it comes back. */
export function encodeCursor (value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** Decodes a cursor made by encodeCursor; `ERR_VALIDATION` (400) for anything else. */
export function decodeCursor<T extends Record<string, unknown>> (text: string, check: (value: Record<string, unknown>) => value is T): T {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    value = undefined
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !check(value as Record<string, unknown>)) {
    throw new HttpError(httpCodes.validation, 'querystring/cursor is not a cursor this gateway gave out')
  }
  return value as T
}
