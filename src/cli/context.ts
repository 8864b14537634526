import type { Command } from 'commander'
import { isFramehubError } from '../core/errors.ts'
import type { NodeServices } from '../node.ts'
import type { GlobalOptions } from './output.ts'

/** The options of a command together with the global ones (--repo, --json). */
export function globals (command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>()
}

/**
 * Runs `fn` on the node of the repository and always closes it. While a daemon holds the
 * repository (its address is in `api.json` and its process is alive), the services are the
 * daemon's, reached through its API; otherwise the repository is opened here (and its lock
 * released at the end).
 */
export async function withNode<T> (options: GlobalOptions, fn: (node: NodeServices) => Promise<T>): Promise<T> {
  // Loaded on demand so that --help and usage errors answer at once (and the node's modules only
  // when the repository is opened here).
  const { resolveRepoPath } = await import('../storage/repo-path.ts')
  const path = resolveRepoPath(options.repo)
  let node = await viaDaemon(path)
  if (node == null) {
    const { createNode } = await import('../node.ts')
    try {
      node = await createNode({ repo: path })
    } catch (err) {
      // A daemon that was starting when we looked has its address written by now.
      if (!isFramehubError(err) || err.code !== 'ERR_REPO_LOCKED') throw err
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

/** The daemon's services if one holds the repository at `path` and answers; else undefined. */
async function viaDaemon (path: string): Promise<NodeServices | undefined> {
  const { readApiAddress } = await import('../storage/api-file.ts')
  const address = await readApiAddress(path)
  if (address == null) return undefined
  const { connectNode, DAEMON_UNREACHABLE } = await import('../client/index.ts')
  try {
    return await connectNode({ url: address.url, token: address.token })
  } catch (err) {
    // A recorded daemon that does not answer (crashed, its pid reused): the repository decides.
    if (isFramehubError(err) && (err.code === DAEMON_UNREACHABLE || err.code === 'ERR_TIMEOUT')) return undefined
    throw err
  }
}

/** Collects a repeatable option into an array. */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}
