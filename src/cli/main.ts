import { Command, CommanderError } from 'commander'
import { isFramehubError } from '../core/errors.ts'
import { registerBranch } from './commands/branch.ts'
import { registerCommit } from './commands/commit.ts'
import { registerConfig } from './commands/config.ts'
import { registerDaemon } from './commands/daemon.ts'
import { registerFrame } from './commands/frame.ts'
import { registerGc } from './commands/gc.ts'
import { registerIndex } from './commands/index.ts'
import { registerInit } from './commands/init.ts'
import { registerNetwork } from './commands/network.ts'
import { registerPin } from './commands/pin.ts'
import { registerSnapshot } from './commands/snapshot.ts'
import { registerTrace } from './commands/trace.ts'
import { registerVerify } from './commands/verify.ts'
import { EXIT, exitCodeFor } from './exit-codes.ts'

/** The `framehub` command tree. */
export function createProgram (): Command {
  const program = new Command('framehub')
    .description('content-addressed, versioned memory and reasoning for AI agents')
    .option('--repo <dir>', 'repository directory (default: $FRAMEHUB_REPO, else ~/.framehub)')
    .option('--json', 'machine-readable output (one JSON document on stdout)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  registerInit(program)
  registerConfig(program)
  registerDaemon(program)
  registerFrame(program)
  registerCommit(program)
  registerBranch(program)
  registerTrace(program)
  registerSnapshot(program)
  registerVerify(program)
  registerGc(program)
  registerIndex(program)
  registerNetwork(program)
  registerPin(program)
  // Subcommands inherit the error behaviour so that usage errors exit with EXIT.usage.
  const inherit = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError('(run with --help for usage)')
      inherit(sub)
    }
  }
  inherit(program)
  return program
}

function report (err: unknown, json: boolean): number {
  if (isFramehubError(err)) {
    if (json) process.stderr.write(JSON.stringify({ code: err.code, message: err.message }) + '\n')
    else process.stderr.write(`error: ${err.message} (${err.code})\n`)
    return exitCodeFor(err.code)
  }
  const message = err instanceof Error ? err.message : String(err)
  if (json) process.stderr.write(JSON.stringify({ code: 'ERR_INTERNAL', message }) + '\n')
  else process.stderr.write(`internal error: ${message}\n`)
  if (process.env.FRAMEHUB_DEBUG != null && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
  return EXIT.internal
}

export async function main (argv: string[]): Promise<number> {
  const program = createProgram()
  const json = argv.includes('--json')
  try {
    await program.parseAsync(argv, { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    return report(err, json)
  }
}

const code = await main(process.argv.slice(2))
process.exitCode = code
