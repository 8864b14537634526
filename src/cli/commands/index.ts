import type { Command } from 'commander'
import type * as Wire from '../../core/api-types.ts'
import type { RebuildProgress } from '../../services/frame-index.ts'
import { indexStatusView, indexUpdateView } from '../../services/views.ts'
import { globals, withNode } from '../context.ts'
import { emit, shortCid } from '../output.ts'
import { progressBar } from '../progress.ts'

export function registerIndex (program: Command): void {
  const index = program.command('index').description('the frame index behind the list filters (kind, tag, text)')

  index.command('status')
    .description('show, per branch, the tree its index describes and whether that is the branch head')
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      const branches = await withNode<Wire.BranchIndexStatus[]>(options, async (node) => (await node.index.status()).map(indexStatusView))
      emit(options, { branches }, () => branches.length === 0
        ? 'no branches'
        : branches.map(b => `${b.current ? 'current' : b.indexed == null ? 'stale  ' : 'behind '}  ${b.branch}  index ${shortCid(b.indexed)}  head ${shortCid(b.head)}`).join('\n'))
    })

  index.command('rebuild')
    .description('rebuild the index of BRANCH (default: every branch) from its tree in the DAG')
    .argument('[branch]', 'branch to rebuild')
    .action(async (branch: string | undefined, _opts, command: Command) => {
      const options = globals(command)
      const bar = progressBar(options, 'index rebuild', undefined, 'branches')
      const progress = (p: Partial<RebuildProgress>): void => { if (p.done != null) bar.update(p.done, { extra: p.branch ?? '' }) }
      let updates: Wire.BranchIndexUpdate[]
      try {
        updates = await withNode<Wire.BranchIndexUpdate[]>(options,
          async (node) => (await node.index.rebuild(branch, { onProgress: (e) => { progress(e.detail) } })).map(indexUpdateView))
      } finally {
        bar.stop()
      }
      emit(options, { updates }, () => updates.length === 0
        ? 'no branches'
        : updates.map(u => u.mode === 'drop' ? `dropped the index of ${u.branch} (no such branch)` : `rebuilt ${u.branch}: ${u.frames} frames, ${u.keys} keys (tree ${shortCid(u.tree)})`).join('\n'))
    })
}
