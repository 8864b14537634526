import { CID } from 'multiformats/cid'

/** Global options every command gets. */
export interface GlobalOptions {
  repo?: string
  json?: boolean
}

/** Plain JSON for output: CIDs as strings, bytes as base64, nothing else changed. */
export function plain (value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  const cid = CID.asCID(value)
  if (cid != null) return cid.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  if (Array.isArray(value)) return value.map(plain)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v)
  return out
}

/** Prints `json` with --json, else the human text. */
export function emit (options: GlobalOptions, json: unknown, human: () => string): void {
  if (options.json === true) process.stdout.write(JSON.stringify(plain(json)) + '\n')
  else {
    const text = human()
    if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n')
  }
}

export function shortCid (cid: CID | string | null): string {
  if (cid == null) return '(none)'
  const s = cid.toString()
  return s.length > 16 ? `${s.slice(0, 8)}…${s.slice(-6)}` : s
}
