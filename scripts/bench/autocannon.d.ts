// The parts of autocannon 8 (plain JavaScript, no types) that the gateway benchmark uses.
declare module 'autocannon' {
  export interface AutocannonRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
    /** Called before each request built from this entry; returns the request to send. */
    setupRequest?: (request: AutocannonRequest & { path: string }, context: Record<string, unknown>) => AutocannonRequest | null | undefined
  }
  export interface AutocannonOptions {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    timeout?: number
    headers?: Record<string, string>
    requests?: AutocannonRequest[]
    title?: string
  }
  /** hdr-histogram-percentiles-obj. */
  export interface Histogram {
    min: number
    max: number
    average: number
    mean: number
    stddev: number
    total: number
    p50: number
    p90: number
    p99: number
    [percentile: string]: number
  }
  export interface AutocannonResult {
    title?: string
    url: string
    requests: Histogram
    latency: Histogram
    throughput: Histogram
    duration: number
    errors: number
    timeouts: number
    mismatches: number
    non2xx: number
    resets: number
    '1xx': number
    '2xx': number
    '3xx': number
    '4xx': number
    '5xx': number
    statusCodeStats: Record<string, { count: number }>
  }
  export interface Instance extends PromiseLike<AutocannonResult> {
    on (event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): Instance
    on (event: 'reqError', listener: (err: Error) => void): Instance
    on (event: string, listener: (...args: unknown[]) => void): Instance
    stop (): void
  }
  function autocannon (options: AutocannonOptions): Instance
  export default autocannon
}
