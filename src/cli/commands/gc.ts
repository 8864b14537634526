import type { Command } from 'commander'
import type { ApiClient } from '../../client/api.ts'
import { isFramehubError } from '../../core/errors.ts'
import type { FramehubNode } from '../../node.ts'
import { globals } from '../context.ts'
import { emit } from '../output.ts'
import type { GlobalOptions } from '../output.ts'
import { progressBar } from '../progress.ts'

/**
 * Runs a maintenance command on the repository: through the API of the daemon that holds it, if
 * one does, else on the repository opened here (maintenance is not part of the services a
 * daemon's client offers, so it gets its own routes).
 */
export async function onRepository<T> (options: GlobalOptions, local: (node: FramehubNode) => Promise<T>, remote: (api: ApiClient) => Promise<T>): Promise<T> {
  const [{ resolveRepoPath }, { readApiAddress }] = await Promise.all([import('../../storage/repo-path.ts'), import('../../storage/api-file.ts')])
  const path = resolveRepoPath(options.repo)
  const address = await readApiAddress(path)
  if (address != null) {
    const { createApiClient, DAEMON_UNREACHABLE } = await import('../../client/api.ts')
    try {
      return await remote(createApiClient({ url: address.url, token: address.token }))
    } catch (err) {
      // A recorded daemon that does not answer: the repository decides (its lock, if still held).
      if (!isFramehubError(err) || err.code !== DAEMON_UNREACHABLE) throw err
    }
  }
  const { createNode } = await import('../../node.ts')
  const node = await createNode({ repo: path })
  try {
    return await local(node)
  } finally {
    await node.close()
  }
}

interface GcView { removed: number, kept: number, bytesFreed: number, dryRun: boolean }

export function registerGc (program: Command): void {
  program.command('gc')
    .description('remove blocks that nothing reaches (roots: branches, working trees, forks, session heads, pins)')
    .option('-n, --dry-run', 'count what would be removed, remove nothing')
    .action(async (opts: { dryRun?: boolean }, command: Command) => {
      const options = globals(command)
      const dryRun = opts.dryRun === true
      const result = await onRepository<GcView>(options, async (node) => {
        const bar = progressBar(options, 'gc', undefined, 'blocks')
        try {
          const r = await node.gc.gc({ dryRun, onProgress: (e) => { bar.update(e.detail.blocks, { extra: e.detail.phase }) } })
          return { removed: r.removed, kept: r.kept, bytesFreed: r.bytesFreed, dryRun: r.dryRun }
        } finally {
          bar.stop()
        }
      }, async (api) => await api.json<GcView>('/gc', { method: 'POST', query: { dryRun } }))
      emit(options, result, () => `${dryRun ? 'would remove' : 'removed'} ${result.removed} blocks (${result.bytesFreed} bytes), kept ${result.kept}`)
    })
}
