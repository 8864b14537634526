import type { Command } from 'commander'
import type * as Wire from '../../core/api-types.ts'
import type { GcProgress } from '../../services/gc.ts'
import { gcResultView } from '../../services/views.ts'
import { globals, withNode } from '../context.ts'
import { emit } from '../output.ts'
import { progressBar } from '../progress.ts'

export function registerGc (program: Command): void {
  program.command('gc')
    .description('remove blocks that nothing reaches (roots: branches, working trees, forks, session heads, pins)')
    .option('-n, --dry-run', 'count what would be removed, remove nothing')
    .action(async (opts: { dryRun?: boolean }, command: Command) => {
      const options = globals(command)
      const dryRun = opts.dryRun === true
      const bar = progressBar(options, 'gc', undefined, 'blocks')
      const progress = (p: Partial<GcProgress>): void => { if (p.blocks != null) bar.update(p.blocks, { extra: p.phase ?? '' }) }
      let result: Wire.GcResult
      try {
        result = await withNode<Wire.GcResult>(options, async (node) => gcResultView(await node.gc.gc({ dryRun, onProgress: (e) => { progress(e.detail) } })))
      } finally {
        bar.stop()
      }
      emit(options, result, () => `${dryRun ? 'would remove' : 'removed'} ${result.removed} blocks (${result.bytesFreed} bytes), kept ${result.kept}`)
    })
}
