import type { Command } from 'commander'
import { isFramehubError, UsageError } from '../core/errors.ts'
import type { NodeServices } from '../node.ts'
import type { GlobalOptions } from './output.ts'

/** The options of a command together with the global ones (--repo, --json). */
export function globals (command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>()
}

export interface WithNodeHooks {
  /**
   * Called when the repository is to be opened in this process (no daemon holds it), before the
   * node's modules load: work that does not need them starts here, beside their loading (a big
   * import starts its worker threads).
   */
  beforeLocalOpen?: () => Promise<void> | void
}

/**
 * Runs `fn` on the node of the repository and always closes it: the one way a command reaches
 * the repository. While a daemon holds the repository (its address is in `api.json` and it
 * answers), the services are the daemon's, reached through its API (`src/client`); otherwise the
 * repository is opened here (and its lock released at the end). A recorded daemon that cannot be
 * reached or goes silent (crashed, its pid reused) leaves the repository to decide; when that is
 * locked all the same, the daemon's error is reported (exit 7), never ERR_REPO_LOCKED: the daemon
 * is alive, only slow.
 */
export async function withNode<T> (options: GlobalOptions, fn: (node: NodeServices) => Promise<T>, hooks?: WithNodeHooks): Promise<T> {
  // Loaded on demand so that --help and usage errors answer at once (and the node's modules only
  // when the repository is opened here).
  const { resolveRepoPath } = await import('../storage/repo-path.ts')
  const path = resolveRepoPath(options.repo)
  let daemonError: unknown
  let node = await viaDaemon(path).catch((err: unknown) => {
    // A recorded daemon that does not answer (crashed, its pid reused, or busy): the repository decides.
    if (!isFramehubError(err) || (err.code !== 'ERR_DAEMON_UNREACHABLE' && err.code !== 'ERR_TIMEOUT')) throw err
    daemonError = err
    return undefined
  })
  if (node == null) {
    await hooks?.beforeLocalOpen?.()
    const { createNode } = await import('../node.ts')
    try {
      node = await createNode({ repo: path })
    } catch (err) {
      if (!isFramehubError(err) || err.code !== 'ERR_REPO_LOCKED') throw err
      // The daemon holds the repository but did not answer in time: say so, not "locked".
      if (daemonError != null) throw daemonError
      // A daemon that was starting when we looked has its address written by now.
      node = await viaDaemon(path)
      if (node == null) throw err
    }
  }
  try {
    return await fn(node)
  } finally {
    await node.close()
  }
}

/**
 * The daemon's services if one holds the repository at `path` and answers; undefined if none is
 * recorded. A recorded daemon that cannot be reached or does not answer in time throws
 * (ERR_DAEMON_UNREACHABLE, ERR_TIMEOUT): the caller tries the repository, and reports that
 * error, not ERR_REPO_LOCKED, if the repository is locked (the daemon is alive but slow).
 */
async function viaDaemon (path: string): Promise<NodeServices | undefined> {
  const { readApiAddress } = await import('../storage/api-file.ts')
  const address = await readApiAddress(path)
  if (address == null) return undefined
  const { connectNode } = await import('../client/index.ts')
  return await connectNode({ url: address.url, token: address.token, timeoutMs: daemonTimeoutMs() })
}

/** Default seconds the CLI waits on a daemon that sends nothing (FRAMEHUB_DAEMON_TIMEOUT). */
export const DAEMON_TIMEOUT_S = 300

/**
 * How long the CLI waits on a daemon that sends nothing, ms: `FRAMEHUB_DAEMON_TIMEOUT` seconds,
 * default 300. Long work (gc, index rebuild, verify) reports progress at least every 5 s, so
 * only a daemon that stopped answering reaches it (ERR_TIMEOUT, exit 7).
 */
export function daemonTimeoutMs (): number {
  const text = process.env.FRAMEHUB_DAEMON_TIMEOUT
  if (text == null || text.trim() === '') return DAEMON_TIMEOUT_S * 1000
  const seconds = Number(text)
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`FRAMEHUB_DAEMON_TIMEOUT must be a number of seconds above 0, not "${text}"`)
  return seconds * 1000
}

/** Collects a repeatable option into an array. */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}
