import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { bases } from 'multiformats/basics'
import { CID } from 'multiformats/cid'
import { signChainEntry, verifyChainEntry } from '../../src/core/chain-entry.ts'
import { checkBranchName, checkBranchSyntax, cidOfText, looksLikeCid, parseRefSpec, unknownRef } from '../../src/core/ref-spec.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519Signer } from '../../src/storage/ed25519-signer.ts'

const V1 = CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const V0 = CID.parse('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG')

/** One CID in every multibase multiformats knows that can carry a name's characters, and CIDv0. */
const spellings = (): string[] => [
  V1.toString(),
  V1.toString(bases.base32upper),
  V1.toString(bases.base32hex),
  V1.toString(bases.base36),
  V1.toString(bases.base58btc),
  V1.toString(bases.base16),
  V1.toString(bases.base16upper),
  V1.toString(bases.base10),
  V1.toString(bases.base8),
  V1.toString(bases.base2),
  V1.toString(bases.base64url),
  V0.toString(),
  'f01550000' // the shortest CID there is: raw, identity hash of nothing
]

describe('ref names and REF text (core/ref-spec)', () => {
  it('reads a CID in any multibase, and only CIDs', () => {
    for (const text of spellings()) {
      const cid = cidOfText(text)
      assert.ok(cid != null, text)
      if (text !== 'f01550000') assert.ok(cid.equals(text.startsWith('Qm') ? V0 : V1), text)
    }
    for (const name of ['main', 'zebra', 'bagel', 'kitten', 'feature/x', 'mAXE', 'f0155000', 'HEAD']) assert.equal(cidOfText(name), undefined, name)
  })

  it('reads every CID in every base multiformats knows (the alphabets checked before decoding are not stricter than the decoders)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.constantFrom(0x55, 0x70, 0x71, 0x0129, 0x72), (digest, codec) => {
      const cid = CID.createV1(codec, { code: 0x00, size: digest.length, digest, bytes: new Uint8Array([0x00, digest.length, ...digest]) } as any)
      for (const base of Object.values(bases)) {
        const text = cid.toString(base as any)
        assert.ok(cidOfText(text)?.equals(cid) === true, `${base.name}: ${text}`)
      }
    }), { numRuns: 200 })
  })

  it('a new branch may not be called like a CID (any base) or under refs/; ordinary names pass', () => {
    for (const text of spellings()) {
      // (base2 text is longer than any branch name may be: refused by length first)
      assert.throws(() => { checkBranchName(text) }, (err: any) => err.code === 'ERR_REF_INVALID' && (text.length > 200 || /reads as a CID/.test(err.message)), text)
      // Names that only use the grammar still pass the lookup check, so such a branch made before
      // this rule can still be deleted and checked out.
      if (/^[A-Za-z0-9]+$/.test(text) && text.length <= 200) checkBranchSyntax(text)
    }
    for (const reserved of ['refs', 'refs/heads/main', 'refs/x']) {
      assert.throws(() => { checkBranchName(reserved) }, (err: any) => err.code === 'ERR_REF_INVALID' && /refs\//.test(err.message), reserved)
    }
    for (const name of ['main', 'shared/main', 'exp-1', 'v1.2', 'zebra', 'bagel', 'bafyinvalid', 'Qmfoo', 'release/2024_01']) checkBranchName(name)
    for (const bad of ['a b', 'HEAD', '-x', 'a..b', 'x.', 'a~1', '']) {
      assert.throws(() => { checkBranchName(bad) }, (err: any) => err.code === 'ERR_REF_INVALID', bad)
    }
  })

  it('a REF is read in order: HEAD, refs/heads/NAME, a CID (never a branch), a branch; each with ~N', () => {
    assert.deepEqual(parseRefSpec('HEAD'), { kind: 'head', back: 0 })
    assert.deepEqual(parseRefSpec(' HEAD~3 '), { kind: 'head', back: 3 })
    assert.deepEqual(parseRefSpec(''), { kind: 'head', back: 0 })
    assert.deepEqual(parseRefSpec('main~2'), { kind: 'branch', name: 'main', back: 2, explicit: false })
    assert.deepEqual(parseRefSpec(`refs/heads/${V1.toString()}`), { kind: 'branch', name: V1.toString(), back: 0, explicit: true })
    assert.deepEqual(parseRefSpec('refs/heads/main~1'), { kind: 'branch', name: 'main', back: 1, explicit: true })
    for (const text of spellings()) {
      const ref = parseRefSpec(`${text}~1`)
      assert.equal(ref.kind, 'cid', text)
      assert.equal(ref.back, 1)
    }
    assert.throws(() => parseRefSpec('main~99999999999999999999'), (err: any) => err.code === 'ERR_REF_INVALID')
  })

  it('a REF naming nothing is ERR_CID_INVALID when it looks like a CID, else ERR_REF_NOT_FOUND', () => {
    const truncated = V1.toString().slice(0, -1)
    const typo = V1.toString().slice(0, 20) + '0' + V1.toString().slice(21) // 0 is not base32
    const cidLike = [truncated, typo, 'bafyinvalid', 'bafyreiabc123', 'QmNotReallyACid', V0.toString().slice(0, 40), 'zdpuAysRe9YjQ5KKvtNDxxxxxxxxxxxxxxxx', 'k2jvsladchltu85i1i5vxxxxxxxxxxxxxx']
    for (const text of cidLike) {
      assert.equal(cidOfText(text), undefined, text)
      assert.equal(looksLikeCid(text), true, text)
      assert.equal(unknownRef(text, text).code, 'ERR_CID_INVALID', text)
    }
    const names = ['nope', 'bagel', 'Qmfoo', 'feature/bafyreigh2akiscaildcqabsyg3dfr6chu3fgp', 'bugfixes20240101', 'release-bafyreigh2akiscaildcqabsyg3dfr6chu3fgp']
    for (const text of names) {
      assert.equal(looksLikeCid(text), false, text)
      assert.equal(unknownRef(text, text).code, 'ERR_REF_NOT_FOUND', text)
    }
    // refs/heads/NAME is a branch by its form: a missing one is not found, whatever NAME looks like.
    assert.equal(unknownRef(`refs/heads/${truncated}`, truncated, true).code, 'ERR_REF_NOT_FOUND')
  })

  it('a peer\'s chain entry naming a ref a branch may not have is refused', async () => {
    const key = await generateKeyPair('Ed25519')
    const signer = ed25519Signer(peerIdFromPrivateKey(key).toString(), key)
    const ok = await signChainEntry(signer, { ref: { name: 'shared/main', head: V1.toString() } })
    await verifyChainEntry(ok)
    for (const name of ['shared/a b', 'shared/x..y', 'shared/']) {
      const entry = await signChainEntry(signer, { ref: { name, head: V1.toString() } })
      await assert.rejects(verifyChainEntry(entry), (err: any) => err.code === 'ERR_SIGNATURE_INVALID' && /chain entry rejected/.test(err.message), name)
    }
  })
})
