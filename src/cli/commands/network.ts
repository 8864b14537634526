import type { Command } from 'commander'
import { parseCid } from '../../core/cid.ts'
import { collect, globals, withNode } from '../context.ts'
import { emit, shortCid } from '../output.ts'
import { progressBar } from '../progress.ts'

/** `id`, `peers`, `publish`, `remotes`, `sync`: the node in the swarm (through the running daemon). */
export function registerNetwork (program: Command): void {
  program.command('id')
    .description("this node's peer id, network, listen addresses and chain (needs the daemon)")
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const id = await node.swarm.id()
        emit(options, id, () => [`peer    ${id.peerId}`, `network ${id.network}`, `chain   ${id.chain}`, 'addresses:', ...id.addresses.map(a => `  ${a}`)].join('\n'))
      })
    })

  const peers = program.command('peers')
    .description('connected peers; connect and disconnect (needs the daemon)')
    .option('--fingerprint', "every known peer's fingerprint and the weight of its vote (works without the daemon)")
    .action(async (opts: { fingerprint?: boolean }, command: Command) => { await (opts.fingerprint === true ? listFingerprints(command) : listPeers(command)) })
  peers.command('ls')
    .description('list connected peers (the default)')
    .action(async (_opts, command: Command) => { await listPeers(command) })
  peers.command('connect')
    .description('dial a peer')
    .argument('<multiaddr>', 'its address, ending in /p2p/PEER-ID (see "framehub id" on that node)')
    .action(async (address: string, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const info = await node.swarm.connect(address)
        emit(options, info, () => `connected to ${info.peer}`)
      })
    })
  peers.command('disconnect')
    .description('close every connection to a peer')
    .argument('<peer>', 'peer id')
    .action(async (peer: string, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        await node.swarm.disconnect(peer)
        emit(options, { peer }, () => `disconnected from ${peer}`)
      })
    })

  program.command('publish')
    .description('coherence check, then append the head of a shared/* branch (and its sessions) to this node\'s chain')
    .argument('[branch]', 'a shared/* branch (default: the current branch)')
    .option('--session <name>', 'also publish the heads of this session, repeatable', collect)
    .option('--sessions-only', 'publish only the sessions given with --session')
    .action(async (branch: string | undefined, opts: { session?: string[], sessionsOnly?: boolean }, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const r = await node.swarm.publish({ branch: opts.sessionsOnly === true ? null : branch, sessions: opts.session })
        emit(options, r, () => [
          ...(r.ref != null ? [`published ${r.ref.name} -> ${shortCid(r.ref.head)} (${r.checked} blocks checked)`] : []),
          ...Object.entries(r.sessions).map(([name, heads]) => `published session ${name}: ${heads.length} head(s)`)
        ].join('\n'))
      })
    })

  program.command('remotes')
    .description("peers' published heads of shared branches that this node has synced")
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const remotes = await node.swarm.remotes()
        emit(options, { remotes }, () => remotes.length === 0 ? '(no remote heads yet)' : remotes.map(r => `${r.peer}/${r.ref}  ${r.head.toString()}`).join('\n'))
      })
    })

  program.command('sync')
    .description('fetch the DAG under a CID from peers in one round trip, verify it and make it visible')
    .argument('<cid>', 'root to fetch')
    .option('--from <peer>', 'ask this peer first, repeatable', collect)
    .action(async (cid: string, opts: { from?: string[] }, command: Command) => {
      const options = globals(command)
      const want = parseCid(cid)
      await withNode(options, async (node) => {
        const bar = progressBar(options, `sync ${shortCid(want)}`, undefined, 'blocks')
        const r = await node.swarm.sync(want, { from: opts.from, onProgress: (e) => { bar.update(e.detail.blocks, { extra: `${(e.detail.bytes / 1e6).toFixed(1)} MB from ${e.detail.peer}` }) } }).finally(() => { bar.stop() })
        emit(options, r, () => r.blocks === 0 && r.peer === '' ? `already here: ${cid}` : `synced ${r.blocks} blocks (${r.bytes} bytes) from ${r.peer} in ${Math.round(r.ms)} ms`)
      })
    })
}

async function listFingerprints (command: Command): Promise<void> {
  const options = globals(command)
  await withNode(options, async (node) => {
    const peers = await node.consensus.fingerprints()
    emit(options, { peers }, () => peers.length === 0
      ? '(no peer seen yet)'
      : peers.map(p => `${p.peer}  weight ${p.weight}${p.member ? '' : ' (not a member)'}  chain ${p.chainLength}  proposals ${p.proposals}  canonical ${p.canonical}  coherence failures ${p.coherenceFailures}${p.failing ? ` (failing: ${p.lastFailure?.code ?? ''})` : ''}  last seen ${new Date(p.lastSeen).toISOString()}`).join('\n'))
  })
}

async function listPeers (command: Command): Promise<void> {
  const options = globals(command)
  await withNode(options, async (node) => {
    const peers = await node.swarm.peers()
    emit(options, { peers }, () => peers.length === 0 ? '(no peers)' : peers.map(p => `${p.peer}  ${p.addrs.join(' ')}${p.chain != null ? '  (chain followed)' : ''}`).join('\n'))
  })
}
