import { CID } from 'multiformats/cid'
import type { RefService, ResolvedTree } from '../services/refs.ts'
import type * as Wire from '../core/api-types.ts'
import { branchOf } from '../services/views.ts'
import { segment } from './api.ts'
import type { ApiClient } from './api.ts'

/** RefService over the daemon's `/api/v1/head`, `/resolve`, `/branches` and `/checkout`. */
export function remoteRefs (api: ApiClient): RefService {
  const state = async (branch?: string): Promise<Wire.BranchState> => await api.json<Wire.BranchState>('/head', { query: { branch } })
  const resolveTree: RefService['resolveTree'] = async (spec, options) => {
    const r = await api.json<Required<Pick<Wire.ResolvedRef, 'tree'>> & Pick<Wire.ResolvedRef, 'commit'>>('/resolve', { query: { ref: spec, as: 'tree' }, signal: options?.signal })
    const out: ResolvedTree = { tree: CID.parse(r.tree) }
    if (r.commit != null) out.commit = CID.parse(r.commit)
    return out
  }
  return {
    currentBranch: async () => (await state()).branch,

    workingTree: async (branch) => CID.parse((await state(branch)).workingTree),

    resolveCommit: async (spec, options) => {
      const r = await api.json<Required<Pick<Wire.ResolvedRef, 'commit'>>>('/resolve', { query: { ref: spec.trim() === '' ? undefined : spec, as: 'commit' }, signal: options?.signal })
      return CID.parse(r.commit)
    },

    // The daemon's `as=root` also checks the block is there, which is what every caller needs next.
    resolveCid: async (spec, options) => {
      const r = await api.json<Required<Pick<Wire.ResolvedRef, 'root'>>>('/resolve', { query: { ref: spec, as: 'root' }, signal: options?.signal })
      return CID.parse(r.root)
    },

    resolveTree,

    listBranches: async () => (await api.json<Wire.BranchList>('/branches')).branches.map(branchOf),

    createBranch: async (name, start) => branchOf(await api.json<Wire.Branch>('/branches', { method: 'POST', json: { name, start } })),

    deleteBranch: async (name) => {
      await api.request(`/branches/${segment(name)}`, { method: 'DELETE' })
    },

    checkout: async (name, options) => {
      const r = await api.json<Wire.CheckoutResult>('/checkout', { method: 'POST', json: { branch: name, create: options?.create } })
      return r.commit == null ? { branch: r.branch } : { branch: r.branch, commit: CID.parse(r.commit) }
    }
  }
}
