import type { Command } from 'commander'
import type { RebuildProgress } from '../../services/frame-index.ts'
import { globals, withNode } from '../context.ts'
import { emit, shortCid } from '../output.ts'
import { progressBar } from '../progress.ts'

interface StatusView { branch: string, head: string | null, indexed: string | null, current: boolean }
interface UpdateView { branch: string, mode: string, tree: string | null, frames: number, keys: number }

export function registerIndex (program: Command): void {
  const index = program.command('index').description('the frame index behind the list filters (kind, tag, text)')

  index.command('status')
    .description('show, per branch, the tree its index describes and whether that is the branch head')
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      const branches = await withNode<StatusView[]>(options,
        async (node) => (await node.index.status()).map(s => ({ branch: s.branch, head: s.head?.toString() ?? null, indexed: s.indexed?.toString() ?? null, current: s.current })))
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
      let updates: UpdateView[]
      try {
        updates = await withNode<UpdateView[]>(options,
          async (node) => (await node.index.rebuild(branch, { onProgress: (e) => { progress(e.detail) } })).map(u => ({ branch: u.branch, mode: u.mode, tree: u.tree?.toString() ?? null, frames: u.frames, keys: u.keys })))
      } finally {
        bar.stop()
      }
      emit(options, { updates }, () => updates.length === 0
        ? 'no branches'
        : updates.map(u => u.mode === 'drop' ? `dropped the index of ${u.branch} (no such branch)` : `rebuilt ${u.branch}: ${u.frames} frames, ${u.keys} keys (tree ${shortCid(u.tree)})`).join('\n'))
    })
}
