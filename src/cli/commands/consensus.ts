import type { Command } from 'commander'
import { MAX_MEMBER_WEIGHT, checkMemberWeight } from '../../core/consensus/weight.ts'
import { globals, withNode } from '../context.ts'
import { emit, shortCid } from '../output.ts'
import type { ConsensusDocument } from '../../services/consensus.ts'

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`

function describe (d: ConsensusDocument): string {
  const lines = [
    `branch    ${d.branch}`,
    `head      ${d.head}${d.maximal.length > 1 ? `  (consensus commit of ${d.maximal.length} heads)` : ''}`,
    `decision  ${d.decision}`,
    `converged ${pct(d.convergence)} of voting nodes propose the head`,
    '',
    'candidates (highest score first):'
  ]
  for (const c of d.candidates) {
    const mark = d.maximal.includes(c.commit) ? '*' : ' '
    lines.push(` ${mark} ${shortCid(c.commit)}  score ${c.score.toFixed(3)}  height ${c.height}  by ${c.node}`)
    for (const t of c.terms) {
      const vote = d.votes.find(v => v.head === t.vote)
      const who = vote == null ? '' : vote.nodes.length === 1 ? (vote.nodes[0] as string) : `${vote.nodes.length} nodes`
      lines.push(`      ${who} proposing ${shortCid(t.vote)}  weight ${t.weight}  conv ${t.conv.toFixed(3)}  ${t.contained === 1 ? 'contained' : t.contained === 0 ? 'similar' : `${(t.contained * 100).toFixed(0)}% contained`}`)
    }
  }
  if (d.forks.length > 0) {
    lines.push('', `forks kept by the consensus commit (conflict rate ${pct(d.conflictRate)}):`)
    for (const f of d.forks) lines.push(`  ${f.id}  head keeps ${shortCid(f.ours)}, fork ${shortCid(f.theirs)}`)
  }
  return lines.join('\n')
}

/** `consensus`, `status` and `network members`: agreement on shared branches. */
export function registerConsensus (program: Command): void {
  program.command('consensus')
    .description('the canonical head of a shared branch, every candidate with its score and the terms behind it')
    .argument('[branch]', 'a shared/* branch (default: the current branch)')
    .action(async (branch: string | undefined, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const d = await node.consensus.show(branch ?? await node.refs.currentBranch())
        emit(options, d, () => describe(d))
      })
    })

  program.command('status')
    .description("the network's targets as this node sees them: convergence, conflict rate, nodes, shared branches")
    .action(async (_opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const s = await node.consensus.status()
        emit(options, s, () => [
          `convergence   ${pct(s.convergence)}`,
          `conflict rate ${pct(s.conflictRate)}`,
          `nodes         ${s.peers}`,
          ...(s.branches.length === 0 ? ['(no shared branch has proposals yet)'] : s.branches.map(b => `${b.branch}  head ${shortCid(b.head)}  ${pct(b.convergence)} converged  ${b.proposals} proposals  local ${b.local === b.head ? 'on head' : shortCid(b.local)}`))
        ].join('\n'))
      })
    })

  const network = program.command('network')
    .description('the network this node votes in: its members')
  const members = network.command('members')
    .description('voting members (none listed: every node that announces itself votes)')
    .action(async (_opts, command: Command) => { await listMembers(command) })
  members.command('ls')
    .description('list the voting members (the default)')
    .action(async (_opts, command: Command) => { await listMembers(command) })
  members.command('add')
    .description('make a peer a voting member; once any is listed, only members vote')
    .argument('<peer>', 'its peer id ("framehub id" on that node)')
    .option('--weight <w>', `the weight of its vote, 0 to ${MAX_MEMBER_WEIGHT} (0: listed, no vote)`, '1')
    .action(async (peer: string, opts: { weight: string }, command: Command) => {
      const options = globals(command)
      const weight = checkMemberWeight(opts.weight.trim() === '' ? NaN : Number(opts.weight), `--weight "${opts.weight}"`)
      await withNode(options, async (node) => {
        const list = await node.consensus.addMember(peer, { weight })
        const weights = await node.consensus.memberWeights()
        emit(options, { members: list, weights }, () => `${peer} votes with weight ${weight} (${list.length} members)`)
      })
    })
  members.command('rm')
    .description('remove a voting member')
    .argument('<peer>', 'its peer id')
    .action(async (peer: string, _opts, command: Command) => {
      const options = globals(command)
      await withNode(options, async (node) => {
        const list = await node.consensus.removeMember(peer)
        emit(options, { members: list, weights: await node.consensus.memberWeights() }, () => list.length === 0 ? 'no members listed: every node votes' : `${list.length} members`)
      })
    })
}

async function listMembers (command: Command): Promise<void> {
  const options = globals(command)
  await withNode(options, async (node) => {
    const list = await node.consensus.members()
    const weights = await node.consensus.memberWeights()
    emit(options, { members: list, weights }, () => list.length === 0 ? '(no members listed: every node that announces itself votes)' : list.map(p => `${p}  weight ${weights[p] ?? 1}`).join('\n'))
  })
}
