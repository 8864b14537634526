import type { CID } from 'multiformats/cid'

/* CIDs as the JSON views of the routes write them. */

export const cidText = (cid: CID): string => cid.toString()
export const cidsText = (cids: readonly CID[]): string[] => cids.map(c => c.toString())
export const maybeCidText = (cid: CID | null | undefined): string | null => cid == null ? null : cid.toString()
