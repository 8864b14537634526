import type { Command } from 'commander'
import { globals, withNode } from '../context.ts'
import { emit, shortCid } from '../output.ts'
import { branchNameIsCid, HEADS_PREFIX } from '../../core/ref-spec.ts'

export function registerBranch (program: Command): void {
  program.command('branch')
    .description('list branches, or create one at HEAD (or --start), or delete one')
    .argument('[name]', 'branch to create (or delete with -d)')
    .option('-d, --delete', 'delete the branch')
    .option('--start <ref>', 'commit the new branch starts at (default: HEAD)')
    .action(async (name: string | undefined, opts: { delete?: boolean, start?: string }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        if (name == null) {
          const branches = await node.refs.listBranches()
          const current = await node.refs.currentBranch()
          emit(options, { current, branches }, () => branches.length === 0
            ? `on branch ${current} (no commits yet)`
            : branches.map(b => `${b.current ? '*' : ' '} ${b.name}  ${shortCid(b.commit)}`).join('\n'))
          // Made before such names were refused: in a REF the text means the CID, never this branch.
          for (const b of branches.filter(b => branchNameIsCid(b.name))) {
            process.stderr.write(`warning: branch "${b.name}" has a name that reads as a CID; name it as ${HEADS_PREFIX}${b.name}, or move it: framehub branch NEW --start ${HEADS_PREFIX}${b.name} && framehub branch -d ${b.name}\n`)
          }
        } else if (opts.delete === true) {
          await node.refs.deleteBranch(name)
          emit(options, { deleted: name }, () => `deleted branch ${name}`)
        } else {
          const b = await node.refs.createBranch(name, opts.start)
          emit(options, { name: b.name, commit: b.commit }, () => `created branch ${b.name} at ${shortCid(b.commit)}`)
        }
      })
    })

  program.command('checkout')
    .description('switch to a branch (each branch keeps its own staged frames)')
    .argument('<branch>', 'branch name')
    .option('-b, --create', 'create the branch at HEAD first')
    .action(async (name: string, opts: { create?: boolean }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const r = await node.refs.checkout(name, { create: opts.create })
        emit(options, r, () => `switched to branch ${r.branch}`)
      })
    })

  program.command('merge')
    .description('three-way merge of REF into the current branch; conflicting frames are kept as forks')
    .argument('<ref>', 'branch or commit to merge')
    .option('-m, --message <msg>', 'merge commit message')
    .action(async (ref: string, opts: { message?: string }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const r = await node.commits.merge(ref, { message: opts.message })
        emit(options, r, () => {
          if (r.mode === 'up-to-date') return 'already up to date'
          if (r.mode === 'fast-forward') return `fast-forward to ${shortCid(r.commit)}`
          const forks = r.forks.map(f => `  fork ${f.id}: kept ${shortCid(f.ours)}, theirs ${shortCid(f.theirs)} kept under a fork ref`)
          return [`merged ${ref}: ${shortCid(r.commit)}`, ...forks].join('\n')
        })
      })
    })

  program.command('forks')
    .description('list the frame versions that merges kept aside (same id changed two ways)')
    .option('--branch <name>', 'only forks recorded on this branch')
    .action(async (opts: { branch?: string }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const rows = await Array.fromAsync(node.commits.forks({ branch: opts.branch }))
        emit(options, rows, () => rows.length === 0 ? 'no forks' : rows.map(f => `${f.branch}  ${f.id}  ours ${shortCid(f.ours)}  theirs ${shortCid(f.theirs)}  (merge ${shortCid(f.merge)})`).join('\n'))
      })
    })
}
