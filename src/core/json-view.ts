import { CID } from 'multiformats/cid'
import { MAX_BLOCK_BYTES } from './block.ts'
import { cidString, parseCid } from './cid.ts'
import { compareKeys } from './tree/keys.ts'
import { BlockInvalidError, InvalidJsonError } from './errors.ts'

/*
 * The JSON view of IPLD values (DAG-JSON's form: links as {"/": cid}, bytes as
 * {"/": {"bytes": b64}}), and the limits on JSON input.
 */

/**
 * Longest JSON text of one frame or trace step (a file given to `frame put`, a request body, an
 * NDJSON line): 8 MiB. Compact JSON takes at most 6 bytes per byte of DAG-CBOR (`false,` in an
 * array, or a control character's `\u0000` escape), so every value whose block fits in
 * MAX_BLOCK_BYTES has a JSON text under this; the gateway's JSON body limit is this too, so a
 * daemon accepts exactly what the local path accepts.
 */
export const MAX_JSON_TEXT_BYTES = 8 * MAX_BLOCK_BYTES

/**
 * Deepest nesting of arrays and objects in a frame or trace step input (the frame or step itself
 * counted as one level; a link `{"/": CID}` counts too). Checked before anything recursive runs on
 * the value (DAG-CBOR encoding, canonicalisation, JSON views): 100k levels would overflow the stack.
 */
export const MAX_JSON_DEPTH = 128

/** Refuses a value nested deeper than MAX_JSON_DEPTH (callers wrap it in their own code). */
function tooDeep (): never {
  throw new InvalidJsonError(`nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`, { limit: MAX_JSON_DEPTH })
}

/** The JSON view of an IPLD value (DAG-JSON: links as {"/": cid}, bytes as {"/": {"bytes": b64}}). */
export function toJsonView (value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new BlockInvalidError(`${value} has no JSON form`)
    if (value === undefined) throw new BlockInvalidError('undefined has no JSON form')
    return Object.is(value, -0) ? 0 : value
  }
  const cid = CID.asCID(value)
  if (cid != null) return depth >= MAX_JSON_DEPTH ? tooDeep() : { '/': cidString(cid) }
  if (value instanceof Uint8Array) return depth + 1 >= MAX_JSON_DEPTH ? tooDeep() : { '/': { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64').replace(/=+$/, '') } }
  if (++depth > MAX_JSON_DEPTH) tooDeep()
  if (Array.isArray(value)) return value.map(v => toJsonView(v, depth))
  // Keys in DAG-JSON's order (UTF-8 bytes), so a view reads the same whichever way it was made.
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(value).sort(compareKeys)) setOwn(out, k, toJsonView((value as Record<string, unknown>)[k], depth))
  return out
}

/** `obj[k] = v` that also works for a key named `__proto__` (data from outside may have one). */
function setOwn (obj: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true })
  else obj[k] = v
}

/**
 * The IPLD value of a parsed JSON view (inverse of toJsonView): `{"/": "<cid>"}` becomes a CID and
 * `{"/": {"bytes": "<base64>"}}` becomes bytes, as DAG-JSON says. A hand walk over the already
 * parsed value: re-decoding the text with the DAG-JSON codec costs several times more per frame.
 * Refuses (ERR_JSON_INVALID) a value nested deeper than MAX_JSON_DEPTH before going deeper: it is
 * the first walk over a frame or step input, so nothing recursive has run on it yet.
 */
export function fromJsonView (json: unknown, depth = 0): unknown {
  if (json === null || typeof json !== 'object') return json
  if (++depth > MAX_JSON_DEPTH) tooDeep()
  if (Array.isArray(json)) {
    // Copy on write: most of a frame (its body) holds no links and is returned as it is.
    let out: unknown[] | undefined
    for (let i = 0; i < json.length; i++) {
      const v = fromJsonView(json[i], depth)
      if (v !== json[i]) (out ??= json.slice())[i] = v
    }
    return out ?? json
  }
  const obj = json as Record<string, unknown>
  const slash = obj['/']
  if (slash !== undefined && Object.keys(obj).length === 1) {
    if (typeof slash === 'string') return parseCid(slash, 'link')
    if (slash !== null && typeof slash === 'object' && !Array.isArray(slash)) {
      const b = (slash as Record<string, unknown>).bytes
      if (typeof b === 'string' && Object.keys(slash).length === 1) return new Uint8Array(Buffer.from(b, 'base64'))
    }
  }
  let out: Record<string, unknown> | undefined
  for (const k in obj) {
    const v = fromJsonView(obj[k], depth)
    if (v !== obj[k]) setOwn(out ??= { ...obj }, k, v)
  }
  return out ?? obj
}

/** Where an input came from, for error messages (`file.ndjson:12`). */
export interface SourceHint {
  source?: string
}

/** Parses JSON text with a one-line error naming the source on failure. */
export function parseJsonText (text: string, hint?: SourceHint): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    const at = hint?.source != null ? `${hint.source}: ` : ''
    throw new InvalidJsonError(`${at}malformed JSON: ${(err as Error).message}`, { source: hint?.source })
  }
}

/** Does the value hold CIDs or bytes? `'deep'` (and no further walk) past MAX_JSON_DEPTH. */
function hasIpldValues (value: unknown, depth = 0): boolean | 'deep' {
  if (value === null || typeof value !== 'object') return false
  if (value instanceof Uint8Array || CID.asCID(value) != null) return true
  if (++depth > MAX_JSON_DEPTH) return 'deep'
  let found = false
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    const has = hasIpldValues(v, depth)
    if (has === 'deep') return has
    found ||= has
  }
  return found
}

/**
 * The JSON view of a value that may already hold CIDs or bytes (the TypeScript API accepts both
 * forms): plain JSON is returned as it is, anything else goes through toJsonView. A value nested
 * deeper than MAX_JSON_DEPTH is returned as it is, for the validation that follows to refuse.
 */
export function asJsonView (value: unknown): unknown {
  return hasIpldValues(value) === true ? toJsonView(value) : value
}
