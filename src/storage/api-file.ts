import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Where a running daemon says it listens, so that CLI commands on the same repo can reach it. */
export interface ApiAddress {
  /** Base URL of the gateway, e.g. http://127.0.0.1:8080 */
  url: string
  /** Process id of the daemon. */
  pid: number
}

const FILE = 'api.json'

export async function writeApiAddress (repoPath: string, address: ApiAddress): Promise<void> {
  await writeFile(join(repoPath, FILE), JSON.stringify(address) + '\n', { mode: 0o600 })
}

export async function clearApiAddress (repoPath: string): Promise<void> {
  await rm(join(repoPath, FILE), { force: true })
}

/** The daemon's address if one is recorded and its process is alive. */
export async function readApiAddress (repoPath: string): Promise<ApiAddress | undefined> {
  let address: ApiAddress
  try {
    address = JSON.parse(await readFile(join(repoPath, FILE), 'utf8')) as ApiAddress
  } catch {
    return undefined
  }
  try {
    process.kill(address.pid, 0)
  } catch {
    return undefined
  }
  return address
}
