/**
 * Base class for errors that carry a stable, greppable code. Each protocol serialises these in one
 * place (Pusher: `pusher:error` frames and JSON HTTP bodies; config: the startup report).
 */
export class HeraldError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
