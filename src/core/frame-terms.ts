import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import type { Frame } from './frame.ts'

/*
 * What a frame is found by: its terms (kind, tags, words of its title and body) and the meaning of
 * a list filter on one frame. The frame index (src/storage/frame-index/) stores these terms and
 * answers the same filters for a whole tree; a change here changes what it holds, so it goes with
 * a bump of its INDEX_VERSION.
 */

/** Distinct words indexed per frame (the first ones, title first, then the body's strings). */
export const MAX_WORDS_PER_FRAME = 256
/** Longer words are cut to this many code points (in frames and in queries alike). */
export const MAX_WORD_LENGTH = 64
/** Body nesting deeper than this is not searched. */
const MAX_DEPTH = 64

const WORD = /[\p{L}\p{N}\p{M}]+/gu

function clip (word: string): string {
  if (word.length <= MAX_WORD_LENGTH) return word
  // Cut on code points: a split surrogate pair would not survive UTF-8.
  return Array.from(word).slice(0, MAX_WORD_LENGTH).join('')
}

/** Adds the words of `text` to `out` (lower case, NFKC, letters/digits/marks), up to `max`. */
function addWords (text: string, out: Set<string>, max: number): void {
  for (const m of text.normalize('NFKC').toLowerCase().matchAll(WORD)) {
    if (out.size >= max) return
    out.add(clip(m[0]))
  }
}

function addBodyWords (value: unknown, out: Set<string>, depth: number): void {
  if (out.size >= MAX_WORDS_PER_FRAME) return
  if (typeof value === 'string') { addWords(value, out, MAX_WORDS_PER_FRAME); return }
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || depth > MAX_DEPTH) return
  if (CID.asCID(value) != null) return
  for (const v of Array.isArray(value) ? value : Object.values(value)) addBodyWords(v, out, depth + 1)
}

/** The words of a text query, as the index holds them (distinct, in order). */
export function queryWords (q: string): string[] {
  const out = new Set<string>()
  addWords(q, out, Number.POSITIVE_INFINITY)
  return [...out]
}

/** What a frame is indexed under. */
export interface FrameTerms {
  kind: string
  tags: string[]
  /** Distinct words of the title, then of the strings in the body; at most MAX_WORDS_PER_FRAME. */
  words: string[]
}

/** The terms of a frame as stored (decoded from its block: the body's keys in canonical order). */
export function frameTerms (frame: Frame): FrameTerms {
  const words = new Set<string>()
  if (typeof frame.title === 'string') addWords(frame.title, words, MAX_WORDS_PER_FRAME)
  addBodyWords(frame.body, words, 0)
  return { kind: frame.kind, tags: [...new Set(frame.tags ?? [])], words: [...words] }
}

/** A list filter. `words`: every one must be among the frame's words; an empty list matches nothing. */
export interface FrameFilter {
  kind?: string
  tag?: string
  words?: string[]
}

export function filterOf (options: { kind?: string, tag?: string, q?: string }): FrameFilter {
  const filter: FrameFilter = {}
  if (options.kind != null) filter.kind = options.kind
  if (options.tag != null) filter.tag = options.tag
  if (options.q != null) filter.words = queryWords(options.q)
  return filter
}

export function isEmptyFilter (filter: FrameFilter): boolean {
  return filter.kind == null && filter.tag == null && filter.words == null
}

/** The filter's meaning, on one frame: what the index answers for a whole tree. */
export function matchesFilter (frame: Frame, filter: FrameFilter, terms?: FrameTerms): boolean {
  if (filter.kind != null && frame.kind !== filter.kind) return false
  if (filter.tag != null && !(frame.tags ?? []).includes(filter.tag)) return false
  if (filter.words != null) {
    if (filter.words.length === 0) return false
    const have = new Set((terms ?? frameTerms(frame)).words)
    for (const w of filter.words) if (!have.has(w)) return false
  }
  return true
}

/**
 * The terms of a stored frame, from its DAG-CBOR block: a light decode (no schema validation,
 * which the frame passed when it was written) that only reads the fields the index uses. A tree
 * entry that is not a frame (a hand-made snapshot) has no terms: it is listed by id, never by a filter.
 */
export function blockTerms (cid: CID, bytes: Uint8Array): FrameTerms | undefined {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch {
    return undefined
  }
  if (cid.code !== dagCbor.code || value === null || typeof value !== 'object') return undefined
  const f = value as Record<string, unknown>
  if (typeof f.id !== 'string' || typeof f.kind !== 'string') return undefined
  if (f.title !== undefined && typeof f.title !== 'string') return undefined
  if (f.tags !== undefined && !(Array.isArray(f.tags) && f.tags.every(t => typeof t === 'string'))) return undefined
  return frameTerms(f as unknown as Frame)
}
