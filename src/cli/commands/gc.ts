import type { Command } from 'commander'
import type { ApiClient } from '../../client/api.ts'
import { progressJson } from '../../client/progress.ts'
import type { FramehubNode } from '../../node.ts'
import type { GcProgress } from '../../services/gc.ts'
import { daemonOrLocal, globals } from '../context.ts'
import { emit } from '../output.ts'
import type { GlobalOptions } from '../output.ts'
import { progressBar } from '../progress.ts'

/**
 * Runs a maintenance command on the repository: through the API of the daemon that holds it, if
 * one does, else on the repository opened here (maintenance is not part of the services a
 * daemon's client offers, so it gets its own routes). A daemon that is alive but slow is waited
 * for, or reported (ERR_TIMEOUT, exit 7), never mistaken for a locked repository.
 */
export async function onRepository<T> (options: GlobalOptions, local: (node: FramehubNode) => Promise<T>, remote: (api: ApiClient) => Promise<T>): Promise<T> {
  const { resolveRepoPath } = await import('../../storage/repo-path.ts')
  const path = resolveRepoPath(options.repo)
  return await daemonOrLocal(path, async (init) => {
    const { createApiClient } = await import('../../client/api.ts')
    return await remote(createApiClient(init))
  }, async () => {
    const { createNode } = await import('../../node.ts')
    const node = await createNode({ repo: path })
    try {
      return await local(node)
    } finally {
      await node.close()
    }
  })
}

interface GcView { removed: number, kept: number, bytesFreed: number, dryRun: boolean }

export function registerGc (program: Command): void {
  program.command('gc')
    .description('remove blocks that nothing reaches (roots: branches, working trees, forks, session heads, pins)')
    .option('-n, --dry-run', 'count what would be removed, remove nothing')
    .action(async (opts: { dryRun?: boolean }, command: Command) => {
      const options = globals(command)
      const dryRun = opts.dryRun === true
      const bar = progressBar(options, 'gc', undefined, 'blocks')
      const progress = (p: Partial<GcProgress>): void => { if (p.blocks != null) bar.update(p.blocks, { extra: p.phase ?? '' }) }
      let result: GcView
      try {
        result = await onRepository<GcView>(options, async (node) => {
          const r = await node.gc.gc({ dryRun, onProgress: (e) => { progress(e.detail) } })
          return { removed: r.removed, kept: r.kept, bytesFreed: r.bytesFreed, dryRun: r.dryRun }
        }, async (api) => await progressJson<GcView, Partial<GcProgress>>(api, '/gc', { method: 'POST', query: { dryRun } }, progress))
      } finally {
        bar.stop()
      }
      emit(options, result, () => `${dryRun ? 'would remove' : 'removed'} ${result.removed} blocks (${result.bytesFreed} bytes), kept ${result.kept}`)
    })
}
