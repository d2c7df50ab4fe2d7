import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { AdminServer } from '../collector/admin-server.js';
import { Collector } from '../collector/collector.js';
import {
  type CollectorConfig,
  ConfigError,
  DEFAULT_CONFIG,
  loadConfigFile,
  parseConfig,
} from '../collector/config/load-config.js';
import { RecentErrors } from '../collector/status/recent-errors.js';
import type { FileStorageConfig } from '../extensions/filestorage/config.js';
import { inspectStorage } from '../extensions/filestorage/inspect-storage.js';
import { warnAboutExposedListeners } from '../net/exposure.js';
import { checkTlsAndAuthFiles } from './check-files.js';
import type { CliIo } from './io.js';
import { applyLogLevel, cliLogger } from './logger.js';

const SHUTDOWN_DEADLINE_MS = 30_000;
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

async function load(path: string | undefined): Promise<CollectorConfig> {
  return path ? loadConfigFile(path) : parseConfig(DEFAULT_CONFIG, '(built-in default)');
}

/** `sluice validate --config FILE`: exit 0 when the config would run, 1 with every problem. */
export async function validateCommand(path: string, io: CliIo): Promise<number> {
  try {
    const config = await load(path);
    const problems = [...(await checkStorage(config, io)), ...(await checkTlsAndAuthFiles(config))];
    if (problems.length > 0) throw new ConfigError(path, problems);
    io.out(
      `${path}: valid (${config.pipelines.length} pipeline${config.pipelines.length === 1 ? '' : 's'}: ${config.pipelines.map((p) => p.name).join(', ')})`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}

/**
 * The storage extensions' directories: usable (or creatable), and what their queues hold —
 * what the next start replays. Returns the problems that would stop a start.
 */
async function checkStorage(config: CollectorConfig, io: CliIo): Promise<string[]> {
  const problems: string[] = [];
  for (const [id, entry] of config.extensions) {
    if (entry.type !== 'file_storage') continue;
    const storage = entry.config as FileStorageConfig;
    const directory = resolve(storage.directory);
    if (!existsSync(directory) && storage.create_directory) {
      io.out(`${id}: ${directory} does not exist yet; it is created at start`);
      continue;
    }
    try {
      const queues = await inspectStorage(directory, false);
      io.out(
        `${id}: ${directory} (fsync ${storage.fsync}, at most ${storage.max_size_bytes} bytes per queue)`,
      );
      for (const queue of queues) {
        const torn =
          queue.tornBytes > 0 ? `; ${queue.tornBytes} torn bytes are skipped at start` : '';
        io.out(
          `  ${queue.name}: ${queue.records} requests, ${queue.points} points, ${queue.bytes} bytes stored, replayed at start${torn}`,
        );
        if (queue.lockedBy !== undefined) {
          problems.push(
            `extensions.${id}: ${queue.name} is in use by process ${queue.lockedBy}: another collector runs on this directory`,
          );
        }
      }
    } catch (err) {
      problems.push(`extensions.${id}.directory: ${(err as Error).message}`);
    }
  }
  return problems;
}

/**
 * `sluice run [--config FILE]`: runs the collector until SIGTERM or SIGINT (graceful
 * shutdown with a deadline); SIGHUP reloads the config when it is valid and keeps the
 * running one when it is not.
 */
export async function runCommand(path: string | undefined, io: CliIo): Promise<number> {
  let config: CollectorConfig;
  try {
    config = await load(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
  const recentErrors = new RecentErrors();
  const logger: Logger = cliLogger(process.stdout, process.env, recentErrors);
  applyLogLevel(logger, config.logLevel);
  let collector = new Collector(config, logger);
  const adminAuth = config.adminListener.auth?.authenticator;
  const admin = new AdminServer(
    {
      ...config.adminListener,
      address: config.adminAddress,
      logger,
      recentErrors,
      version,
      // The collector a reload builds brings its own extensions: ask the current one.
      authenticator: adminAuth
        ? {
            authenticate: (header) =>
              collector.auth(adminAuth).serverAuthenticator?.authenticate(header) ?? false,
          }
        : undefined,
    },
    () => collector,
  );
  try {
    await collector.start();
    await admin.start();
    warnAboutExposedListeners([admin.protection], logger);
  } catch (err) {
    io.err(`sluice: could not start: ${(err as Error).message}`);
    await collector.shutdown(1_000);
    await admin.stop();
    return 1;
  }
  const banner = (c: Collector) => {
    io.out(`sluice is running${path ? ` with ${path}` : ' with the built-in default config'}`);
    for (const address of c.addresses) io.out(`  receiving ${address}`);
    for (const [id, exporter] of c.exporters) {
      const served = exporter.addresses?.length ? ` (${exporter.addresses.join(', ')})` : '';
      io.out(`  exporting to ${id}${served}`);
    }
    const threads = c.decodePool.threads;
    io.out(
      `  decoding on ${threads === 0 ? 'the main thread' : `${threads} worker thread${threads > 1 ? 's' : ''}`} (service.decode_threads)`,
    );
    io.out(`  dashboard ${admin.url('/')}`);
    io.out(`  admin ${admin.url('/metrics')} (also /healthz, /readyz, /api/status)`);
  };
  banner(collector);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutting down');
      await collector.shutdown(SHUTDOWN_DEADLINE_MS);
      await admin.stop();
      process.off('SIGHUP', reload);
      resolve(0);
    };
    const reload = async () => {
      let next: CollectorConfig;
      try {
        next = await load(path);
      } catch (err) {
        logger.error(
          { problems: (err as ConfigError).problems ?? [(err as Error).message] },
          'config reload refused: keeping the running config',
        );
        return;
      }
      logger.info('reloading config');
      applyLogLevel(logger, next.logLevel);
      await collector.shutdown(SHUTDOWN_DEADLINE_MS);
      collector = new Collector(next, logger);
      await collector.start();
      banner(collector);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', reload);
  });
}
