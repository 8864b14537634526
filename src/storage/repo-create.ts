/**
 * Making a repository: its directories, the store with the node's key, config and HEAD, and the
 * marker written last. Apart from `repo.ts` (which opens one) so that `framehub init` loads
 * LevelDB and node:crypto, and none of the codecs and services a node needs.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { RepoExistsError } from '../core/errors.ts'
import { openRepoDb, WriteBatch } from './level-db.ts'
import { generateNodeKey, readNodeKey } from './node-key.ts'
import { REPO_MARKER, repoExists } from './repo-path.ts'
import { encodeJson, encodeText, keys } from './state-keys.ts'

export const REPO_VERSION = 1

/** Persistent settings of a repository (`framehub config`). */
export interface RepoConfig {
  version: number
  /** Bearer token for write endpoints of the gateway. */
  apiToken: string
  /** Branch checked out after init. */
  defaultBranch: string
}

/**
 * The empty tree's block (`emptyTree()`: the DAG-CBOR map `{ keys: [], level: 0, values: [] }`)
 * under its blockstore key, every new branch's tree. Spelled out so that making a repository
 * needs no codec; a test checks it against `emptyTree()`.
 */
export const EMPTY_TREE_BLOCK = {
  key: '/BCIQNKPWQ7UXJFLP64OQWQUEMRLD4KHSLCHKEE6RY4X445VRLKUSZQ2Y',
  bytes: Uint8Array.from(Buffer.from('a3646b65797380656c6576656c006676616c75657380', 'hex'))
}

/**
 * The repository holds the node's private key and the API token (in its LevelDB), so it is the
 * owner's only: the repository directory and every directory framehub makes in it are 0700, the
 * files framehub writes itself 0600. LevelDB and OrbitDB create their files with the process
 * umask (often 0644), but inside a 0700 directory no other user can reach them; framehub does not
 * change the umask (it is process-wide, and an embedding application owns it).
 */
export const REPO_DIR_MODE = 0o700
export const REPO_FILE_MODE = 0o600

/** Makes `dir` (its parents with the usual mode) and gives it mode 0700, even if it existed. */
export async function privateDir (dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true })
  await mkdir(dir, { recursive: true, mode: REPO_DIR_MODE })
  await chmod(dir, REPO_DIR_MODE) // mkdir's mode is masked by the umask, and an existing directory keeps its own
}

/**
 * Creates a repository at `path` and returns the node's peer id; refuses if one is already there.
 * The store is opened once and closed; `openRepo` opens it.
 */
export async function createRepo (path: string): Promise<{ path: string, peerId: string }> {
  if (repoExists(path)) throw new RepoExistsError(`a framehub repository already exists at ${path}`, { path })
  await privateDir(path)
  await privateDir(join(path, 'store'))
  const key = generateNodeKey()
  const db = await openRepoDb(join(path, 'store'))
  try {
    const config: RepoConfig = { version: REPO_VERSION, apiToken: randomBytes(24).toString('base64url'), defaultBranch: 'main' }
    await new WriteBatch(db)
      .putState(keys.identity, key)
      .putState(keys.config, encodeJson(config))
      .putState(keys.head, encodeText(config.defaultBranch))
      .putBlockByKey(EMPTY_TREE_BLOCK.key, EMPTY_TREE_BLOCK.bytes)
      .write()
  } finally {
    await db.close()
  }
  // The marker is written last: a repository without it was never finished and init may run again.
  await writeFile(join(path, REPO_MARKER), JSON.stringify({ version: REPO_VERSION }) + '\n', { mode: REPO_FILE_MODE })
  const peerId = readNodeKey(key)?.peerId
  if (peerId === undefined) throw new Error('the node key just made does not read back')
  return { path, peerId }
}
