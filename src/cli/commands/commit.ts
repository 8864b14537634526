import type { Command } from 'commander'
import { globals, withNode } from '../context.ts'
import { emit, shortCid } from '../output.ts'
import type { FrameChange } from '../../services/commits.ts'

export function registerCommit (program: Command): void {
  program.command('commit')
    .description('record the staged frame set of the current branch as a signed commit')
    .requiredOption('-m, --message <msg>', 'commit message')
    .option('--allow-empty', 'commit even if nothing changed')
    .action(async (opts: { message: string, allowEmpty?: boolean }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const r = await node.commits.commit({ message: opts.message, allowEmpty: opts.allowEmpty })
        emit(options, r, () => `[${r.branch} ${shortCid(r.commit)}] ${opts.message}`)
      })
    })

  program.command('log')
    .description('show the commit history of a branch or commit, newest first')
    .argument('[ref]', 'HEAD, a commit CID, a branch (or refs/heads/NAME), each with ~N (default: HEAD)')
    .option('-n, --max-count <n>', 'show at most n commits', (v) => Number.parseInt(v, 10))
    .action(async (ref: string | undefined, opts: { maxCount?: number }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const rows = await Array.fromAsync(node.commits.log(ref, { limit: opts.maxCount }), ({ cid, commit }) =>
          ({ commit: cid, tree: commit.tree, parents: commit.parents, author: commit.author, time: commit.time, message: commit.message, forks: commit.forks?.length ?? 0 }))
        emit(options, rows, () => rows.map(r =>
          `commit ${r.commit}\n${r.parents.length > 1 ? `Merge:  ${r.parents.map(p => shortCid(p)).join(' ')}\n` : ''}Author: ${r.author}\nDate:   ${new Date(r.time).toISOString()}\n\n    ${r.message.split('\n').join('\n    ')}\n`
        ).join('\n'))
      })
    })

  program.command('show')
    .description('decode whatever a CID or ref names: commit, tree node, frame, trace step')
    .argument('<cid-or-ref>', 'the CID of any block, or HEAD, a branch (or refs/heads/NAME), each with ~N')
    .action(async (spec: string, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const shown = await node.commits.show(spec)
        emit(options, shown, () => `${shown.type} ${shown.cid}\n${JSON.stringify(shown.value, null, 2)}`)
      })
    })

  program.command('diff')
    .description('frame ids added, removed and changed from A to B (default: HEAD to the working tree)')
    .argument('[a]', 'branch, commit or tree')
    .argument('[b]', 'branch, commit or tree (default: the working tree)')
    .action(async (a: string | undefined, b: string | undefined, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const d = await node.commits.diff(a, b)
        const line = (sign: string, c: FrameChange): string => `${sign} ${c.id}  ${shortCid(c.before)} → ${shortCid(c.after)}`
        emit(options, d, () => [...d.added.map(c => line('A', c)), ...d.removed.map(c => line('D', c)), ...d.changed.map(c => line('M', c))].join('\n'))
      })
    })
}
