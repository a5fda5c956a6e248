import { HeraldError } from '../core/errors.js';

export const ERR_HTTP = 'ERR_HTTP';

/** An HTTP failure with its status; it is answered as `{"error": message}` with that status. */
export class HttpError extends HeraldError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(ERR_HTTP, message);
  }
}
