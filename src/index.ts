/** framehub's TypeScript API: open a node and use the same services as the CLI and the gateway. */
export { createNode, initNode } from './node.ts'
export type { FramehubNode, NodeConfig, NodeServices } from './node.ts'
export { connectNode } from './client/index.ts'
export * from './core/errors.ts'
export type { Frame, FrameLink, Attachment } from './core/frame.ts'
export type { Commit, ForkRecord } from './core/commit.ts'
export type { TraceStep, TraceStepInput } from './core/trace-step.ts'
