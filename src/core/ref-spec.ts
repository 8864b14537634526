/**
 * Branch names and the REFs users give (`HEAD`, a branch, a CID, each with `~N`): what a branch
 * may be called, and how a REF's text is read. Resolution against a repository is in
 * services/refs.ts; this is the pure part, shared with the chain entries peers publish.
 */
import { bases } from 'multiformats/basics'
import { CID } from 'multiformats/cid'
import type { MultibaseDecoder } from 'multiformats/cid'
import { tryParseCid } from './cid.ts'
import { CidInvalidError, RefInvalidError, RefNotFoundError } from './errors.ts'
import type { FramehubError } from './errors.ts'

/** The explicit form of a branch in a REF: `refs/heads/NAME` names branch NAME, whatever NAME looks like. */
export const HEADS_PREFIX = 'refs/heads/'

const BRANCH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/
const MAX_BRANCH = 200

/** Every multibase multiformats knows (base16, base32 upper and lower, base36, base58, base64, ...), by prefix. */
const BASES = new Map<string, MultibaseDecoder<string>>(Object.values(bases).map(b => [b.prefix as string, b.decoder as MultibaseDecoder<string>]))
const ANY_BASE: MultibaseDecoder<string> = {
  decode (text: string): Uint8Array<ArrayBuffer> {
    const decoder = BASES.get(String.fromCodePoint(text.codePointAt(0) ?? 0))
    if (decoder == null) throw new Error('no multibase has this prefix')
    return decoder.decode(text) as Uint8Array<ArrayBuffer>
  }
}

/**
 * CID text after each multibase prefix: the alphabet of multiformats' base (`i`: its decoder
 * ignores case), and for the bit-packed bases the first characters a CIDv1 (first byte 0x01) has
 * there. Text that does not match is no CID and is not decoded: decoding throws for most names,
 * and every REF asks.
 */
const ALPHABET: Record<string, RegExp> = {
  0: /^000000001[01]*$/,
  7: /^700[23][0-7]*$/,
  9: /^9[0-9]+$/,
  f: /^f01[0-9a-f]*$/i,
  F: /^F01[0-9a-f]*$/i,
  b: /^ba[e-h][a-z2-7]*$/i,
  B: /^Ba[e-h][a-z2-7]*$/i,
  c: /^ca[e-h][a-z2-7=]*$/i,
  C: /^Ca[e-h][a-z2-7=]*$/i,
  v: /^v0[4-7][0-9a-v]*$/i,
  V: /^V0[4-7][0-9a-v]*$/i,
  t: /^t0[4-7][0-9a-v=]*$/i,
  T: /^T0[4-7][0-9a-v=]*$/i,
  h: /^hy[rfg8][ybndrfg8ejkmcpqxot1uwisza345h769]*$/,
  k: /^k[0-9a-z]+$/i,
  K: /^K[0-9a-z]+$/i,
  z: /^z[1-9A-HJ-NP-Za-km-z]+$/,
  Z: /^Z[1-9A-HJ-NP-Za-km-z]+$/,
  Q: /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/, // CIDv0: 34 bytes in base58btc, without prefix
  m: /^mA[Q-Za-f][A-Za-z0-9+/]*$/,
  M: /^MA[Q-Za-f][A-Za-z0-9+/=]*$/,
  u: /^uA[Q-Za-f][A-Za-z0-9_-]*$/,
  U: /^UA[Q-Za-f][A-Za-z0-9_=-]*$/
}

/** False for text that cannot be a CID: no multibase prefix, a character its base lacks, or too short. */
function mayBeCid (text: string): boolean {
  if (text.length < 5) return false // the smallest CID is 4 bytes: a prefix and 4 characters in the identity base, 5 in base58
  const first = String.fromCodePoint(text.codePointAt(0) ?? 0)
  const alphabet = ALPHABET[first]
  return alphabet != null ? alphabet.test(text) : BASES.has(first) // identity and emoji bases: names never hold them
}

/**
 * The CID a text spells, in any multibase (CIDv0 `Qm…`, CIDv1 `b…`, `B…`, `k…`, `z…`, `f…`, …),
 * else undefined. What a REF reads as a CID, and what a branch may therefore not be called.
 */
export function cidOfText (text: string): CID | undefined {
  if (!mayBeCid(text)) return undefined
  // CIDv0, and base32 (what framehub writes), read without multiformats' string cache.
  if (text.startsWith('Q') || text.startsWith('b')) return tryParseCid(text)
  let bytes: Uint8Array
  try {
    bytes = ANY_BASE.decode(text)
  } catch {
    return undefined
  }
  // Text with a multibase prefix is a CIDv1 (CIDv0 is written only as bare base58btc): version 1 first.
  if (bytes[0] !== 1) return undefined
  try {
    return CID.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * The grammar every stored branch name satisfies: letters, digits, `. _ -`, parts joined by `/`.
 * Enough where an existing branch is named (delete, checkout, lookups); a new branch must pass
 * checkBranchName.
 */
export function checkBranchSyntax (name: string): void {
  if (!BRANCH.test(name) || name === 'HEAD' || name.includes('..') || name.endsWith('.') || name.length > MAX_BRANCH) {
    throw new RefInvalidError(`"${name}" is not a valid branch name (letters, digits, . _ - and / between parts)`, { ref: name })
  }
}

/**
 * Throws `ERR_REF_INVALID` unless a new branch may be called `name`: the grammar, not a CID in
 * any multibase (a CID in a REF always means the CID, so such a branch could never be named), and
 * not under `refs/` (kept for `refs/heads/NAME`). The one validator of new branch names: branch
 * create, checkout -b, snapshot import --branch, refs peers publish.
 */
export function checkBranchName (name: string): void {
  checkBranchSyntax(name)
  if (cidOfText(name) != null) {
    throw new RefInvalidError(`"${name}" cannot be a branch name: it reads as a CID, and a CID in a REF always means the CID`, { ref: name })
  }
  if (name === 'refs' || name.startsWith('refs/')) {
    throw new RefInvalidError(`"${name}" cannot be a branch name: refs/ is kept for the explicit form refs/heads/NAME`, { ref: name })
  }
}

/** True when a stored branch's name reads as a CID (made before such names were refused). */
export const branchNameIsCid = (name: string): boolean => cidOfText(name) != null

/** The first characters of CIDv0 (`Qm`) and of base32 CIDv1 of the codecs in use (`baf…`, `bag…`). */
const CID_HEAD = /^(Qm|baf|bag)/
/** The multibase prefixes CID text is written with (base32, base36, base58btc, base16). */
const CID_PREFIX = /^[bBkKzfF]/
const LETTERS_AND_DIGITS = /^[A-Za-z0-9]+$/

/**
 * True when a REF that is neither a CID nor a branch was meant as a CID: letters and digits only
 * (as all CID text is, and few branch names are), and either a CID's first characters with 10 or
 * more characters, or a multibase prefix with 32 or more (CIDs of SHA-256 hashes have 46 to 73).
 */
export function looksLikeCid (text: string): boolean {
  if (!LETTERS_AND_DIGITS.test(text)) return false
  return (CID_HEAD.test(text) && text.length >= 10) || (CID_PREFIX.test(text) && text.length >= 32)
}

/** A REF taken apart: what it starts from and how many first parents to go back. */
export type RefSpec =
  | { kind: 'head', back: number }
  | { kind: 'branch', name: string, back: number, explicit: boolean }
  | { kind: 'cid', cid: CID, back: number }

/**
 * Reads a REF, in this order: `HEAD` (or nothing); `refs/heads/NAME` (branch NAME); text that
 * parses as a CID in any multibase (always the CID, never a branch); anything else is a branch
 * name, to be looked up (a missing one is reported with `unknownRef`). A `~N` suffix (N-th first
 * parent) may follow each.
 */
export function parseRefSpec (spec: string): RefSpec {
  const text = spec.trim()
  const m = /^(.*?)(?:~(\d+))?$/.exec(text)
  const base = m?.[1] ?? text
  const back = Number(m?.[2] ?? 0)
  if (!Number.isSafeInteger(back)) throw new RefInvalidError(`"${spec}" goes back too far (~N takes a number of commits)`, { ref: spec })
  if (base === 'HEAD' || base === '') return { kind: 'head', back }
  if (base.startsWith(HEADS_PREFIX)) return { kind: 'branch', name: base.slice(HEADS_PREFIX.length), back, explicit: true }
  const cid = cidOfText(base)
  if (cid != null) return { kind: 'cid', cid, back }
  return { kind: 'branch', name: base, back, explicit: false }
}

/**
 * The error for a REF whose branch does not exist: `ERR_CID_INVALID` when its text looks like a
 * CID (a mistyped or truncated one), else `ERR_REF_NOT_FOUND`.
 */
export function unknownRef (spec: string, name: string, explicit = false): FramehubError {
  if (!explicit && looksLikeCid(name)) {
    return new CidInvalidError(`"${name}" is not a valid CID (and no branch has that name)`, { ref: spec, input: name })
  }
  if (explicit) return new RefNotFoundError(`no branch "${name}"`, { ref: spec })
  return new RefNotFoundError(`unknown ref "${name}": not a branch and not a CID`, { ref: spec })
}
