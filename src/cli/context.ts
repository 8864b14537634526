import type { Command } from 'commander'
import type { FramehubNode } from '../node.ts'
import type { GlobalOptions } from './output.ts'

/** The options of a command together with the global ones (--repo, --json). */
export function globals (command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>()
}

/** Opens the node for one command and always closes it (releasing the repository lock). */
export async function withNode<T> (options: GlobalOptions, fn: (node: FramehubNode) => Promise<T>): Promise<T> {
  // Loaded on demand so that --help and usage errors answer at once.
  const { createNode } = await import('../node.ts')
  const node = await createNode({ repo: options.repo })
  try {
    return await fn(node)
  } finally {
    await node.close()
  }
}

/** Collects a repeatable option into an array. */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}
