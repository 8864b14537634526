import { readFileSync } from 'node:fs'
import { Command, Help } from 'commander'
import { commandWord } from './argv.ts'

/** framehub's version, from its package.json (one small synchronous read, no module loaded). */
export function framehubVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? '0.0.0'
}

type Register = (program: Command) => void

/**
 * The top-level commands: what `framehub --help` lists (name, usage term, description), and the
 * module that registers each with its options and action. A command's module, and all it
 * imports, is loaded only when that command runs (or shows its own help): loading every
 * command's dependencies cost more than the rest of `framehub --help`. A test checks this table
 * against what the modules register.
 */
export const COMMANDS: ReadonlyArray<{ name: string, term: string, description: string, load: () => Promise<Register> }> = [
  ['init', 'init', 'create a repository (blocks, refs and the node key) at --repo, $FRAMEHUB_REPO or ~/.framehub', async () => (await import('./commands/init.ts')).registerInit],
  ['config', 'config', 'show the repository settings: path, peer id, the gateway bearer token, the running daemon', async () => (await import('./commands/config.ts')).registerConfig],
  ['daemon', 'daemon [options]', 'open the repository (created on first start) and serve the HTTP gateway until Ctrl-C', async () => (await import('./commands/daemon.ts')).registerDaemon],
  ['frame', 'frame', 'write, stage and read frames (units of knowledge)', async () => (await import('./commands/frame.ts')).registerFrame],
  ['commit', 'commit [options]', 'record the staged frame set of the current branch as a signed commit', async () => (await import('./commands/commit.ts')).registerCommit],
  ['log', 'log [options] [ref]', 'show the commit history of a branch or commit, newest first', async () => (await import('./commands/commit.ts')).registerCommit],
  ['show', 'show <cid-or-ref>', 'decode whatever a CID or ref names: commit, tree node, frame, trace step', async () => (await import('./commands/commit.ts')).registerCommit],
  ['diff', 'diff [a] [b]', 'frame ids added, removed and changed from A to B (default: HEAD to the working tree)', async () => (await import('./commands/commit.ts')).registerCommit],
  ['branch', 'branch [options] [name]', 'list branches, or create one at HEAD (or --start), or delete one', async () => (await import('./commands/branch.ts')).registerBranch],
  ['checkout', 'checkout [options] <branch>', 'switch to a branch (each branch keeps its own staged frames)', async () => (await import('./commands/branch.ts')).registerBranch],
  ['merge', 'merge [options] <ref>', 'three-way merge of REF into the current branch; conflicting frames are kept as forks', async () => (await import('./commands/branch.ts')).registerBranch],
  ['forks', 'forks [options]', 'list the frame versions that merges kept aside (same id changed two ways)', async () => (await import('./commands/branch.ts')).registerBranch],
  ['trace', 'trace', 'reasoning sessions: signed steps that form a DAG', async () => (await import('./commands/trace.ts')).registerTrace],
  ['snapshot', 'snapshot', 'export and import the closure of a commit or tree as a CAR v1', async () => (await import('./commands/snapshot.ts')).registerSnapshot],
  ['verify', 'verify [ref]', 'coherence check: every reachable block present and hash-valid, schema-valid, signed, links resolvable', async () => (await import('./commands/verify.ts')).registerVerify],
  ['gc', 'gc [options]', 'remove blocks that nothing reaches (roots: branches, working trees, forks, session heads, pins)', async () => (await import('./commands/gc.ts')).registerGc],
  ['index', 'index', 'the frame index behind the list filters (kind, tag, text)', async () => (await import('./commands/index.ts')).registerIndex],
  ['id', 'id', "this node's peer id, network, listen addresses and chain (needs the daemon)", async () => (await import('./commands/network.ts')).registerNetwork],
  ['peers', 'peers [options]', 'connected peers; connect and disconnect (needs the daemon)', async () => (await import('./commands/network.ts')).registerNetwork],
  ['publish', 'publish [options] [branch]', "coherence check, then append the head of a shared/* branch (and its sessions) to this node's chain", async () => (await import('./commands/network.ts')).registerNetwork],
  ['remotes', 'remotes', "peers' published heads of shared branches that this node has synced", async () => (await import('./commands/network.ts')).registerNetwork],
  ['sync', 'sync [options] <cid>', 'fetch the DAG under a CID from peers in one round trip, verify it and make it visible', async () => (await import('./commands/network.ts')).registerNetwork],
  ['consensus', 'consensus [branch]', 'the canonical head of a shared branch, every candidate with its score and the terms behind it', async () => (await import('./commands/consensus.ts')).registerConsensus],
  ['status', 'status', "the network's targets as this node sees them: convergence, conflict rate, nodes, shared branches", async () => (await import('./commands/consensus.ts')).registerConsensus],
  ['network', 'network', 'the network this node votes in: its members', async () => (await import('./commands/consensus.ts')).registerConsensus],
  ['pin', 'pin', 'pins on remote pinning services', async () => (await import('./commands/pin.ts')).registerPin],
  ['mcp', 'mcp', 'serve the repository to MCP clients (agents, IDEs) on stdin/stdout, through the running daemon if there is one', async () => (await import('./commands/mcp.ts')).registerMcp]
].map(([name, term, description, load]) => ({ name, term, description, load } as { name: string, term: string, description: string, load: () => Promise<Register> }))

/** The program with its global options and nothing else. */
function base (): Command {
  return new Command('framehub')
    .description('content-addressed, versioned memory and reasoning for AI agents')
    .version(framehubVersion(), '-V, --version', 'print the framehub version')
    .option('--repo <dir>', 'repository directory (default: $FRAMEHUB_REPO, else ~/.framehub)')
    .option('--json', 'machine-readable output (one JSON document on stdout)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
}

/** Subcommands inherit the error behaviour so that usage errors exit with EXIT.usage. */
function inherit (cmd: Command): void {
  for (const sub of cmd.commands) {
    sub.exitOverride().showHelpAfterError('(run with --help for usage)')
    inherit(sub)
  }
}

/**
 * The `framehub` command tree for `argv`: the modules of the command it names, or, when it names
 * none of them (top-level help, an unknown command), every command as a name and description
 * (enough for the listing and for "did you mean").
 */
export async function createProgram (argv: readonly string[]): Promise<Command> {
  const program = base()
  const word = commandWord(argv)
  const wanted = COMMANDS.find(c => c.name === word)
  if (wanted != null) {
    (await wanted.load())(program)
  } else {
    for (const c of COMMANDS) program.command(c.name).description(c.description)
    const terms = new Map(COMMANDS.map(c => [c.name, c.term]))
    program.configureHelp({
      subcommandTerm (cmd: Command): string { return terms.get(cmd.name()) ?? Help.prototype.subcommandTerm.call(this, cmd) }
    } satisfies Partial<Help>)
  }
  inherit(program)
  return program
}

/** Every command registered in full (what the table above must describe). */
export async function createFullProgram (): Promise<Command> {
  const program = base()
  const registers = new Set(await Promise.all(COMMANDS.map(async c => await c.load())))
  for (const register of registers) register(program)
  inherit(program)
  return program
}
