import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { globals, withNode } from '../context.ts'
import { openInput } from '../input.ts'
import { emit } from '../output.ts'
import { progressBar } from '../progress.ts'

export function registerSnapshot (program: Command): void {
  const snapshot = program.command('snapshot').description('export and import the closure of a commit or tree as a CAR v1')

  snapshot.command('export')
    .description('write everything reachable from CID or REF as a CAR (deterministic block order)')
    .argument('<cid-or-ref>', 'commit, tree, frame or step CID, or a branch')
    .requiredOption('-o, --output <file>', 'CAR file to write (- for standard output)')
    .action(async (spec: string, opts: { output: string }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const root = await node.snapshots.resolveRoot(spec)
        const bar = progressBar(options, 'exporting', undefined, 'blocks')
        const { car, stats } = node.snapshots.exportCar(root, { onProgress: (e) => { bar.update(e.detail.blocks) } })
        try {
          if (opts.output === '-') {
            await pipeline(Readable.from(car), process.stdout)
          } else {
            // Written beside the target and renamed: a failed export never leaves half a CAR.
            const tmp = `${opts.output}.partial`
            try {
              await pipeline(Readable.from(car), createWriteStream(tmp))
              await rename(tmp, opts.output)
            } catch (err) {
              await rm(tmp, { force: true })
              throw err
            }
          }
        } finally {
          bar.stop()
        }
        if (opts.output !== '-') emit(options, stats, () => `exported ${stats.blocks} blocks (${stats.bytes} bytes), root ${stats.root}`)
      })
    })

  snapshot.command('import')
    .description('verify and store a CAR: every hash checked, the DAG complete, before anything is visible')
    .argument('<file>', 'CAR file, or - for standard input')
    .action(async (file: string, _opts, command: Command) => {
      const options = globals(command)
      const { stream, size } = await openInput(file)
      await withNode(options, async (node) => {
        const bar = progressBar(options, 'importing', undefined, 'blocks')
        try {
          const r = await node.snapshots.importCar(stream, { onProgress: (e) => { bar.update(e.detail.blocks) } })
          bar.stop()
          emit(options, { root: r.root, blocks: r.blocks, bytes: r.bytes }, () => `imported ${r.blocks} blocks${size != null ? ` from ${size} bytes` : ''}\nroot ${r.root}`)
        } finally {
          bar.stop()
        }
      })
    })
}
