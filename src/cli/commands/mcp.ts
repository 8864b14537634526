import type { Command } from 'commander'
import { globals, withNode } from '../context.ts'
import { framehubVersion } from '../program.ts'

export function registerMcp (program: Command): void {
  program.command('mcp')
    .description('serve the repository to MCP clients (agents, IDEs) on stdin/stdout, through the running daemon if there is one')
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      const { serveStdio } = await import('../../mcp/stdio.ts')
      // Standard output is the protocol's: nothing else is written there, errors go to stderr.
      await withNode(options, async (node) => { await serveStdio(node, { version: framehubVersion() }) })
    })
}
