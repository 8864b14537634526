import type { Command } from 'commander'
import { globals, withNode } from '../context.ts'
import { openInput } from '../input.ts'
import { emit, openOutput } from '../output.ts'
import { progressBar } from '../progress.ts'

export function registerSnapshot (program: Command): void {
  const snapshot = program.command('snapshot').description('export and import the closure of a commit or tree as a CAR v1')

  snapshot.command('export')
    .description('write everything reachable from CID or REF as a CAR (deterministic block order)')
    .argument('<cid-or-ref>', 'commit, tree, frame or step CID, or a branch')
    .requiredOption('-o, --output <file>', 'CAR file to write (- for standard output)')
    .action(async (spec: string, opts: { output: string }, command: Command) => {
      const options = globals(command)
      // Opened first: a path that cannot be written fails at once (ERR_FILE_NOT_FOUND).
      const output = await openOutput(opts.output)
      try {
        await withNode(options, async (node) => {
          const root = await node.snapshots.resolveRoot(spec)
          const bar = progressBar(options, 'exporting', undefined, 'blocks')
          const { car, stats } = node.snapshots.exportCar(root, { onProgress: (e) => { bar.update(e.detail.blocks) } })
          try {
            await output.write(car)
          } finally {
            bar.stop()
          }
          if (opts.output !== '-') emit(options, stats, () => `exported ${stats.blocks} blocks (${stats.bytes} bytes), root ${stats.root}`)
        })
      } finally {
        await output.abort()
      }
    })

  snapshot.command('import')
    .description('verify and store a CAR: every hash checked, the DAG complete, before anything is visible')
    .argument('<file>', 'CAR file, or - for standard input')
    .option('--branch <name>', 'create this branch at the imported root (a commit); refused if the branch exists')
    .action(async (file: string, opts: { branch?: string }, command: Command) => {
      const options = globals(command)
      const { stream, size } = await openInput(file)
      await withNode(options, async (node) => {
        const bar = progressBar(options, 'importing', undefined, 'blocks')
        try {
          const r = await node.snapshots.importCar(stream, { clientInput: true, branch: opts.branch, onProgress: (e) => { bar.update(e.detail.blocks) } })
          bar.stop()
          // The human output says where the import is: a branch on it, or how to put one there.
          const on = options.json === true || r.branch != null ? [] : (await node.refs.listBranches()).filter(b => b.commit.equals(r.root)).map(b => b.name)
          emit(options, { root: r.root, blocks: r.blocks, bytes: r.bytes, branch: r.branch }, () => [
            `imported ${r.blocks} blocks${size != null ? ` from ${size} bytes` : ''}`,
            `root ${r.root}`,
            r.branch != null
              ? `created branch ${r.branch} at it`
              : on.length > 0
                ? `on branch ${on.join(', ')}`
                : `no branch points at it; if it is a commit, put one there with: framehub branch NAME --start ${r.root} (or import with --branch NAME)`
          ].join('\n'))
        } finally {
          bar.stop()
        }
      })
    })
}
