import type { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

/**
 * The collector's logger: JSON lines (for log shippers) unless the output is a terminal,
 * where a person reads it: then one coloured line per event. `SLUICE_LOG_FORMAT=json|pretty`
 * and `SLUICE_LOG_LEVEL` (default `info`) override.
 */
export function cliLogger(
  stream: Writable & { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
  /** Also gets every line at `warn` and above, as JSON (the dashboard's recent errors). */
  tap?: { write(line: string): void },
): Logger {
  const level = env.SLUICE_LOG_LEVEL ?? 'info';
  const format: LogFormat =
    env.SLUICE_LOG_FORMAT === 'json' || env.SLUICE_LOG_FORMAT === 'pretty'
      ? env.SLUICE_LOG_FORMAT
      : stream.isTTY
        ? 'pretty'
        : 'json';
  const output = dropAfterFailure(stream);
  const destination =
    format === 'json'
      ? output
      : pretty({
          destination: stream,
          colorize: stream.isTTY === true,
          translateTime: 'HH:MM:ss.l',
          ignore: 'pid,hostname,name',
          sync: true,
        });
  if (!tap) return pino({ name: 'sluice', level }, destination);
  return pino(
    { name: 'sluice', level },
    pino.multistream([
      // The logger's level decides (it may change with the config); this passes all it writes.
      { level: 'trace', stream: destination },
      { level: 'warn', stream: tap },
    ]),
  );
}

/**
 * Log lines for `stream` until it fails, then dropped: when whoever reads the collector's
 * output goes away (a pipe's reader exits: EPIPE), the error would otherwise end the process,
 * and with it what the queues hold in memory. The failure is said once on stderr. (Go
 * collectors die of SIGPIPE there.)
 */
function dropAfterFailure(stream: Writable): { write(line: string): void } {
  let failed = false;
  stream.on('error', (err: Error) => {
    if (failed) return;
    failed = true;
    process.stderr.on('error', () => {}); // gone as well: nothing left to tell
    process.stderr.write(
      `sluice: log output failed (${err.message}): log lines are dropped from now on\n`,
    );
  });
  return {
    write(line: string) {
      if (!failed) stream.write(line);
    },
  };
}

/**
 * Applies a config's `service.telemetry.logs.level` to the logger, unless `SLUICE_LOG_LEVEL`
 * set the level for the whole run.
 */
export function applyLogLevel(
  logger: Logger,
  level: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (env.SLUICE_LOG_LEVEL === undefined) logger.level = level;
}
