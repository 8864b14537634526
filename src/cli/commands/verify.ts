import type { Command } from 'commander'
import { globals, withNode } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { emit } from '../output.ts'

export function registerVerify (program: Command): void {
  program.command('verify')
    .description('coherence check: every reachable block present and hash-valid, schema-valid, signed, links resolvable')
    .argument('[ref]', 'branch, commit or any CID (default: HEAD)')
    .action(async (ref: string | undefined, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const report = await node.verifier.verify(ref)
        emit(options, report, () => report.ok
          ? `ok: ${report.blocks} blocks under ${report.root} verified`
          : [`${report.problems.length} problem(s) under ${report.root}:`, ...report.problems.map(p => `  ${p.code}  ${p.message}`)].join('\n'))
        if (!report.ok) process.exitCode = EXIT.integrity
      })
    })
}
