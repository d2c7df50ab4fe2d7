import type { Logger } from 'pino';
import { RateLimitedLog } from '../telemetry/rate-limited-log.js';

/** Why a listener turned a client away before reading its request. */
export type RefusalReason =
  | 'unauthenticated'
  | 'tls_handshake'
  | 'queue_full'
  | 'malformed_http'
  | 'timeout';

const MESSAGES: Record<RefusalReason, string> = {
  unauthenticated: 'refused a request without valid credentials',
  tls_handshake: 'refused a TLS connection (handshake failed: no or an untrusted certificate)',
  queue_full:
    "refused a request before reading it: the exporter's queue is full (the sender was told to retry)",
  malformed_http: 'refused a request whose HTTP framing is not allowed (answered with the reason)',
  timeout: 'closed a connection whose request did not arrive in time (answered 408)',
};

/**
 * Counts refused clients and logs them at most once per 10 s per reason, with the peer's
 * address only: never the credentials it sent, which may be a real secret sent to the
 * wrong place.
 */
export class RefusalLog {
  readonly #log: RateLimitedLog;
  readonly #listener: string;
  readonly #onRefused: (reason: RefusalReason) => void;

  constructor(logger: Logger, listener: string, onRefused?: (reason: RefusalReason) => void) {
    this.#log = new RateLimitedLog(logger);
    this.#listener = listener;
    this.#onRefused = onRefused ?? (() => {});
  }

  /** `detail`: what was wrong, in words that hold nothing the client sent as a credential. */
  refuse(reason: RefusalReason, peer: string | undefined, detail?: string): void {
    this.#onRefused(reason);
    this.#log.note(reason, 'warn', MESSAGES[reason], {
      listener: this.#listener,
      peer,
      ...(detail === undefined ? {} : { error: detail }),
    });
  }

  flush(): void {
    this.#log.flush();
  }
}
