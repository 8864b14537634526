/** The logging the network layer needs (pino's signature; the daemon passes its pino logger). */
export interface Logger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  debug (obj: object, msg: string): void
}

export const silentLogger: Logger = { info () {}, warn () {}, debug () {} }
