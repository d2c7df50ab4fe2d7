import { InvalidArgumentError } from '../model/errors.js';

/** `retry_on_failure`, with the OpenTelemetry Collector's exporterhelper defaults. */
export interface RetryOptions {
  enabled: boolean;
  initialIntervalMs: number;
  multiplier: number;
  randomizationFactor: number;
  maxIntervalMs: number;
  /** Give up after this long since the first attempt; 0 retries forever. */
  maxElapsedMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  enabled: true,
  initialIntervalMs: 5_000,
  multiplier: 1.5,
  randomizationFactor: 0.5,
  maxIntervalMs: 30_000,
  maxElapsedMs: 300_000,
};

export function resolveRetryOptions(options: Partial<RetryOptions> = {}): RetryOptions {
  const resolved = { ...DEFAULT_RETRY, ...options };
  for (const key of ['initialIntervalMs', 'maxIntervalMs', 'maxElapsedMs'] as const) {
    if (!(resolved[key] >= 0)) {
      throw new InvalidArgumentError(`retry.${key}`, resolved[key], 'milliseconds ≥ 0');
    }
  }
  if (!(resolved.multiplier >= 1)) {
    throw new InvalidArgumentError('retry.multiplier', resolved.multiplier, 'a number ≥ 1');
  }
  if (!(resolved.randomizationFactor >= 0 && resolved.randomizationFactor <= 1)) {
    throw new InvalidArgumentError(
      'retry.randomizationFactor',
      resolved.randomizationFactor,
      'a number from 0 to 1',
    );
  }
  return resolved;
}

/**
 * Exponential backoff with jitter, as the Collector computes it (cenkalti/backoff): each
 * delay is drawn from `interval × [1 - factor, 1 + factor]`, then the interval grows by
 * `multiplier` up to `maxIntervalMs`. Jitter keeps many senders from retrying in lockstep.
 */
export class Backoff {
  readonly #options: RetryOptions;
  readonly #random: () => number;
  #interval: number;

  constructor(options: RetryOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
    this.#interval = options.initialIntervalMs;
  }

  nextDelayMs(): number {
    const { randomizationFactor, multiplier, maxIntervalMs } = this.#options;
    const delta = randomizationFactor * this.#interval;
    const delay = this.#interval - delta + this.#random() * (2 * delta);
    this.#interval = Math.min(this.#interval * multiplier, maxIntervalMs);
    return Math.round(delay);
  }
}

/**
 * Parses an HTTP `Retry-After` value, delay-seconds or an HTTP date, into milliseconds from
 * `now`; undefined when absent or unparseable. Dates in the past mean "now" (0).
 */
export function parseRetryAfter(
  value: string | string[] | undefined | null,
  now = Date.now(),
): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === null) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
