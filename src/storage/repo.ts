import { chmod, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import type { PrivateKey } from '@libp2p/interface'
import type { Helia } from 'helia'
import { RepoCorruptError, RepoNotFoundError } from '../core/errors.ts'
import type { Signer } from '../core/signing.ts'
import { createBlockStore } from './block-store.ts'
import { ed25519SeedSigner, ed25519Signer } from './ed25519-signer.ts'
import { readNodeKey } from './node-key.ts'
import { openJournal } from './journal.ts'
import type { Journal } from './journal.ts'
import type { BlockStore } from './block-store.ts'
import { openRepoDb, WriteBatch } from './level-db.ts'
import type { Level } from 'level'
import type { RepoDb } from './level-db.ts'
import { recoverPending } from './pending.ts'
import { createStateReader, keys } from './state.ts'
import { createRepo, EMPTY_TREE_BLOCK, privateDir, REPO_DIR_MODE, REPO_VERSION } from './repo-create.ts'
import type { RepoConfig } from './repo-create.ts'
import { REPO_MARKER, repoExists, resolveRepoPath } from './repo-path.ts'
import type { StateReader } from './state.ts'

const MARKER = REPO_MARKER

/** An open repository: one LevelDB (blocks + state), a Helia node over it, and the node's key. */
export interface Repo {
  readonly path: string
  readonly db: RepoDb
  readonly blocks: BlockStore
  readonly state: StateReader
  /**
   * The Helia node over the repository's blocks (built with `createHeliaLight`; offline unless
   * opened with network layers), created and started on first use: loading Helia costs most of a second, and most commands never need it.
   */
  helia (): Promise<Helia>
  /** The node's key as libp2p's key object (loads `@libp2p/crypto`, which only the network needs). */
  privateKey (): Promise<PrivateKey>
  readonly signer: Signer
  /** The node's identity: its libp2p peer id. */
  readonly peerId: string
  readonly config: RepoConfig
  /** Small frequent writes (trace appends) go here: durable at once, in LevelDB shortly after. */
  readonly journal: Journal
  /** Starts an atomic write (blocks and state together). */
  batch (): WriteBatch
  close (): Promise<void>
}

export { repoExists, resolveRepoPath }
export { createRepo, REPO_DIR_MODE, REPO_FILE_MODE, REPO_VERSION } from './repo-create.ts'
export type { RepoConfig } from './repo-create.ts'

/** How a repository is opened. */
export interface OpenRepoOptions {
  /**
   * Layers added to the repository's Helia before it starts (the network: libp2p, bitswap).
   * Without them Helia is offline: it reads and writes the repository's blocks and nothing else.
   */
  heliaLayers?: (helia: Helia, privateKey: PrivateKey) => Helia
}

/**
 * Tightens `dir` to 0700 if group or others may enter it (a repository made by an older framehub,
 * or by hand). Like ssh with ~/.ssh, but it fixes rather than refuses, so an existing repository
 * keeps working. A directory this user cannot chmod (not the owner) is left for open to fail on.
 */
async function tighten (dir: string): Promise<void> {
  const s = await stat(dir).catch(() => undefined)
  if (s == null || !s.isDirectory() || (s.mode & 0o077) === 0) return
  await chmod(dir, s.mode & REPO_DIR_MODE).catch(() => {})
}

/** Creates a repository (`createRepo`) and opens it; refuses if one is already there. */
export async function initRepo (path: string, options: OpenRepoOptions = {}): Promise<Repo> {
  await createRepo(path)
  return await openRepo(path, options)
}

export async function openRepo (path: string, options: OpenRepoOptions = {}): Promise<Repo> {
  if (!repoExists(path)) throw new RepoNotFoundError(`no framehub repository at ${path} (run "framehub init" or pass --repo)`, { path })
  let marker: { version?: number }
  try {
    marker = JSON.parse(await readFile(join(path, MARKER), 'utf8')) as { version?: number }
    if (marker === null || typeof marker !== 'object') throw new Error('not a JSON object')
  } catch (err) {
    throw new RepoCorruptError(`repository ${path} has an unreadable ${MARKER}: ${(err as Error).message}`, { path })
  }
  if (marker.version !== REPO_VERSION) throw new RepoCorruptError(`repository ${path} has version ${String(marker.version)}, this framehub reads ${REPO_VERSION}`)
  await tighten(path)
  await tighten(join(path, 'store'))
  // Never creates a store: one that lost its CURRENT file is damaged (ERR_REPO_CORRUPT), not new.
  const db = await openRepoDb(join(path, 'store'), { create: false })
  try {
    await privateDir(join(path, 'journal'))
    // Replays what a crashed process journaled before anything reads the store.
    const journal = await openJournal(join(path, 'journal'), db)
    const state = createStateReader(db, journal)
    const keyBytes = await state.bytes(keys.identity)
    const config = await state.json<RepoConfig>(keys.config)
    if (keyBytes == null || config == null) throw new RepoCorruptError(`repository ${path} has no identity or config`)
    let libp2pKey: Promise<PrivateKey> | undefined
    const privateKey = async (): Promise<PrivateKey> => await (libp2pKey ??= import('@libp2p/crypto/keys').then(m => m.privateKeyFromProtobuf(keyBytes)))
    // framehub makes Ed25519 keys and reads them with node:crypto; any other key goes through libp2p.
    const ed25519 = readNodeKey(keyBytes)
    const peerId = ed25519?.peerId ?? (await import('@libp2p/peer-id')).peerIdFromPrivateKey(await privateKey()).toString()
    const signer = ed25519 != null ? ed25519SeedSigner(peerId, ed25519.seed) : ed25519Signer(peerId, await privateKey())
    // Blocks of an import that never finished were never visible: drop them; an import that was
    // checked complete and killed while copying is finished.
    await recoverPending(db)
    // Blocks a bitswap fetch left behind: no fetch runs yet, and none of them is visible.
    await db.fetched.clear()
    // The empty tree is every new branch's tree: keep it readable like any other block (written
    // only when missing: a command that reads leaves the store as it found it).
    if (db.blocks.getSync(EMPTY_TREE_BLOCK.key) === undefined) await new WriteBatch(db).putBlockByKey(EMPTY_TREE_BLOCK.key, EMPTY_TREE_BLOCK.bytes).write()
    let helia: Promise<Helia> | undefined
    const blocks = createBlockStore(db, journal)
    return {
      path,
      db,
      blocks,
      state,
      journal,
      helia: async () => await (helia ??= (async () => {
        const layers = options.heliaLayers
        const key = layers != null ? await privateKey() : undefined
        return await startHelia(db, blocks, h => layers != null && key != null ? layers(h, key) : h)
      })()),
      privateKey,
      signer,
      peerId,
      config,
      batch: () => new WriteBatch(db),
      close: async () => {
        if (helia != null) await (await helia).stop()
        await journal.close()
        await db.close()
      }
    }
  } catch (err) {
    await db.close()
    throw err
  }
}

async function startHelia (db: RepoDb, blocks: BlockStore, layers: (helia: Helia) => Helia): Promise<Helia> {
  const [{ HeliaBlockstore }, { PeerCacheDatastore }, { createHeliaLight }] = await Promise.all([
    import('./helia-blockstore.ts'), import('./peer-cache-datastore.ts'), import('helia')
  ])
  const blockstore = new HeliaBlockstore(db, blocks)
  const datastore = new PeerCacheDatastore(db.helia as unknown as Level<string, Uint8Array>)
  await blockstore.open()
  await datastore.open()
  const helia = layers(createHeliaLight({ blockstore, datastore, codecs: [dagCbor] }))
  await helia.start()
  return helia
}
