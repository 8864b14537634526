/**
 * The MCP server on standard input and output (`framehub mcp`), for agents and IDEs that start
 * their servers as child processes. Standard output carries the protocol and nothing else;
 * diagnostics go to standard error.
 */
import type { Readable, Writable } from 'node:stream'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { createMcpServer } from './server.ts'
import type { McpNode, McpServerInit } from './server.ts'

export interface StdioServeOptions {
  stdin?: Readable
  stdout?: Writable
  /** Where diagnostics go (default: standard error). */
  log?: (line: string) => void
}

/**
 * Serves `node` over stdio until the client closes standard input (or the process gets SIGINT,
 * SIGTERM or SIGHUP, or standard output breaks). Resolves once the server is closed; the node
 * stays open (the caller closes it).
 */
export async function serveStdio (node: McpNode, init: Omit<McpServerInit, 'fileOutput'> = {}, options: StdioServeOptions = {}): Promise<void> {
  const stdin = options.stdin ?? process.stdin
  const stdout = options.stdout ?? process.stdout
  const log = options.log ?? ((line: string) => { process.stderr.write(`framehub mcp: ${line}\n`) })
  // The agent's own machine: snapshot_export may write the CAR file it names.
  const mcp = createMcpServer(node, { ...init, fileOutput: true })
  const transport = new StdioServerTransport(stdin, stdout)
  const { promise: closed, resolve } = Promise.withResolvers<void>()
  const afterClose = mcp.server.server.onclose
  mcp.server.server.onclose = () => {
    afterClose?.()
    resolve()
  }
  // A line that is not JSON-RPC is the client's problem: said on stderr, the session goes on.
  mcp.server.server.onerror = (err) => { log(err.message) }

  const stop = (): void => { void mcp.close().catch(() => {}).finally(resolve) }
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  for (const signal of signals) process.on(signal, stop)
  stdin.once('end', stop)
  stdin.once('close', stop)
  stdout.once('error', (err) => {
    log(`standard output failed: ${err.message}`)
    stop()
  })
  try {
    await mcp.server.connect(transport)
    await closed
  } finally {
    for (const signal of signals) process.off(signal, stop)
    stdin.off('end', stop)
    stdin.off('close', stop)
  }
}
