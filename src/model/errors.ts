/**
 * Every error sluice throws on purpose is a `SluiceError` with a stable `code`, so callers
 * can branch on `err.code` instead of parsing messages (undici's habit).
 */
export class SluiceError extends Error {
  readonly code: string;
  /**
   * `stack: false`: no stack trace is captured — for refusals a loaded collector makes by the
   * thousand (a full queue, the memory limit), whose stack says nothing and whose capture was
   * the dearest part of refusing a request.
   */
  constructor(code: string, message: string, options?: { cause?: unknown; stack?: boolean }) {
    const limit = Error.stackTraceLimit;
    if (options?.stack === false) Error.stackTraceLimit = 0;
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Malformed input to a decoder. `where` is a byte offset (protobuf) or a JSON path
 * (`$.resourceMetrics[0].scopeMetrics[1]`), `expected` says what should have been there.
 */
export class DecodeError extends SluiceError {
  readonly where: number | string;
  readonly expected: string;
  constructor(where: number | string, expected: string, detail?: string) {
    const at = typeof where === 'number' ? `byte ${where}` : where;
    super(
      'SLUICE_ERR_DECODE',
      `cannot decode OTLP metrics at ${at}: expected ${expected}${detail ? ` (${detail})` : ''}`,
    );
    this.where = where;
    this.expected = expected;
  }
}

/**
 * An option or argument sluice cannot work with. `option` names it as the caller wrote it
 * (`retry.multiplier`, `protocol`), `value` is what was given and `allowed` what would do.
 */
export class InvalidArgumentError extends SluiceError {
  readonly option: string;
  readonly value: unknown;
  readonly allowed: string;
  constructor(option: string, value: unknown, allowed: string) {
    super('SLUICE_ERR_INVALID_ARGUMENT', `${option}: expected ${allowed}, got ${shown(value)}`);
    this.option = option;
    this.value = value;
    this.allowed = allowed;
  }
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A value handed to the model that it cannot represent (wrong kind, out of range). */
export class InvalidMetricDataError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_INVALID_DATA', message);
  }
}

/**
 * A file sluice was told to read — a certificate, a key, a token, an htpasswd — is missing
 * or does not hold what it should. The message names the file and the problem, never the
 * file's content.
 */
export class UnusableFileError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_UNUSABLE_FILE', message);
  }
}
