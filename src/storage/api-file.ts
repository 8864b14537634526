import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Where a running daemon says it listens, so that CLI commands on the same repo can reach it. */
export interface ApiAddress {
  /** Base URL of the gateway, e.g. http://127.0.0.1:8080 */
  url: string
  /** Process id of the daemon. */
  pid: number
  /**
   * The bearer token of the gateway's write endpoints (the repository's apiToken, which lives in the
   * repository's database, locked by the daemon). The file is the owner's only (mode 0600).
   */
  token: string
}

const FILE = 'api.json'

/** Writes the address atomically (a reader never sees half a file) and readable by the owner only. */
export async function writeApiAddress (repoPath: string, address: ApiAddress): Promise<void> {
  const tmp = join(repoPath, `${FILE}.${process.pid}.tmp`)
  // A leftover file would keep its old mode: `mode` only applies when writeFile creates the file.
  await rm(tmp, { force: true })
  await writeFile(tmp, JSON.stringify(address) + '\n', { mode: 0o600, flag: 'wx' })
  await rename(tmp, join(repoPath, FILE))
}

export async function clearApiAddress (repoPath: string): Promise<void> {
  await rm(join(repoPath, FILE), { force: true })
}

function isApiAddress (value: unknown): value is ApiAddress {
  const v = value as Partial<ApiAddress> | null
  return typeof v === 'object' && v !== null && typeof v.url === 'string' && /^https?:\/\//.test(v.url) &&
    Number.isSafeInteger(v.pid) && (v.pid as number) > 0 && typeof v.token === 'string'
}

/** The daemon's address if one is recorded and its process is alive. */
export async function readApiAddress (repoPath: string): Promise<ApiAddress | undefined> {
  let address: unknown
  try {
    address = JSON.parse(await readFile(join(repoPath, FILE), 'utf8'))
  } catch {
    return undefined
  }
  if (!isApiAddress(address)) return undefined
  try {
    process.kill(address.pid, 0)
  } catch (err) {
    // EPERM: the process exists but belongs to someone else (not ours, but alive).
    if ((err as { code?: string }).code !== 'EPERM') return undefined
  }
  return address
}
