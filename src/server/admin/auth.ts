import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { RepeatLimiter } from '../../core/rate-limit.js';
import { HttpError } from './json.js';

/** One warning per client address and reason per minute; the next one counts those held back. */
const WARN_INTERVAL_MS = 60_000;

/**
 * Checks `Authorization: Bearer <server.admin_token>` on admin actions. The token is compared as
 * SHA-256 digests with timingSafeEqual: equal lengths whatever was sent, so the time taken says
 * nothing about the token, not even its length. Refusals are logged without what was sent.
 */
export class AdminAuth {
  readonly #digest: Buffer | null;
  readonly #logger: Logger;
  readonly #warnings = new RepeatLimiter(WARN_INTERVAL_MS);

  constructor(token: string | undefined, logger: Logger) {
    this.#digest = token === undefined ? null : digest(token);
    this.#logger = logger;
  }

  /** Whether an admin token is configured: without one, admin actions are off. */
  get configured(): boolean {
    return this.#digest !== null;
  }

  /** Whether `token` is the admin token, compared as above. */
  matches(token: string): boolean {
    return this.#digest !== null && timingSafeEqual(digest(token), this.#digest);
  }

  /** Throws the 401 to answer unless the request carries the admin token. */
  check(req: IncomingMessage, path: string): void {
    if (this.#digest === null) {
      this.refused(req, path, 'no admin token configured');
      throw new HttpError(
        401,
        'admin actions are disabled: set server.admin_token (16+ characters) to enable them',
        { 'www-authenticate': 'Bearer realm="walhook"' },
      );
    }
    const match = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
    const reason = match === null ? 'missing bearer token' : 'wrong token';
    if (match !== null && timingSafeEqual(digest(match[1] as string), this.#digest)) return;
    this.refused(req, path, reason);
    throw new HttpError(401, `${reason}: send Authorization: Bearer <server.admin_token>`, {
      'www-authenticate':
        match === null ? 'Bearer realm="walhook"' : 'Bearer realm="walhook", error="invalid_token"',
    });
  }

  /** Logs a refusal, at most once a minute per client address and reason. */
  refused(req: IncomingMessage, path: string, reason: string): void {
    const remote = req.socket.remoteAddress ?? 'unknown';
    const suppressed = this.#warnings.take(`${remote}\u0000${reason}`);
    if (suppressed === null) return;
    this.#logger.warn(
      { remote, method: req.method, path, reason, ...(suppressed > 0 ? { suppressed } : {}) },
      'admin request refused',
    );
  }
}

function digest(token: string): Buffer {
  return hash('sha256', token, 'buffer');
}
