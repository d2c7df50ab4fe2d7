import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { parseDuration } from '../model/duration.js';
import { componentsCommand } from './components.js';
import { listCommand, replayCommand, showCommand } from './dlq.js';
import type { CliIo } from './io.js';
import { type LoadgenOptions, loadSummary, runLoad } from './loadgen.js';
import { runCommand, validateCommand } from './run.js';
import { runTop } from './top.js';

export type { CliIo } from './io.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

const HELP = `sluice ${version} — a high-throughput OpenTelemetry metrics pipeline for Node.js

Usage:
  sluice <command> [options]

Commands:
  run [--config FILE]                    run the collector (the default command)
  validate --config FILE                 check a config; exit 1 listing every problem
  components [--json]                    list the receivers, processors, exporters and extensions
  loadgen [--endpoint URL] [--protocol http|grpc] [--series N] [--rate N] [--duration 10s]
          [--churn 30s] [--cardinality-bomb N] [--compression gzip|zstd] [--json]
                                         realistic OTLP load (counters grow, gauges move,
                                         histograms fill) with a progress line and a summary;
                                         churn replaces a tenth of the series each period, the
                                         bomb adds N series told apart by user.id;
                                         --compression compresses every request, as most
                                         exporters do (zstd over HTTP only)
  top [--admin URL] [--token TOKEN]      live figures from a running collector's admin server
                                         (a refreshing table on a terminal, else a line a second)
  dlq list --dir DIR [--json]            list dead letters (undeliverable requests)
  dlq show --dir DIR [FILE]              print their points as JSON lines
  dlq replay --dir DIR --to URL          send them to an OTLP/HTTP endpoint again
  help                                   show this help
  version                                print the version

Options:
  -h, --help           show this help
  -v, --version        print the version

Examples:
  sluice                                  # OTLP on 127.0.0.1:4317/4318, admin on :8888
  sluice run --config collector.yaml
  sluice validate --config collector.yaml
  sluice dlq list --dir ./dead-letters
  sluice dlq replay --dir ./dead-letters --to http://127.0.0.1:4318/v1/metrics

Configs use the OpenTelemetry Collector's shape (receivers, processors, exporters,
service.pipelines) with \${env:NAME} and \${env:NAME:-default}. See README.md.`;

/** Runs the `sluice` command line; resolves to the process exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`sluice: ${(err as Error).message}\nRun "sluice --help" for usage.`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, sub] = positionals;
  if (values.version || command === 'version') {
    io.out(version);
    return 0;
  }
  if (values.help || command === 'help') {
    io.out(HELP);
    return 0;
  }
  if (command === undefined || command === 'run') return runCommand(values.config, io);
  if (command === 'validate') {
    if (!values.config) return usage(io, 'validate needs --config FILE');
    return validateCommand(values.config, io);
  }
  if (command === 'components') return componentsCommand(values.json ?? false, io);
  if (command === 'loadgen') {
    const protocol = values.protocol ?? 'http';
    if (protocol !== 'http' && protocol !== 'grpc')
      return usage(io, `--protocol must be http or grpc, got "${protocol}"`);
    const durationMs = parseDuration(values.duration ?? '10s');
    if (durationMs === undefined)
      return usage(io, `--duration: "${values.duration}" is not a duration such as 10s`);
    const churnMs = values.churn === undefined ? undefined : parseDuration(values.churn);
    if (values.churn !== undefined && !churnMs)
      return usage(io, `--churn: "${values.churn}" is not a duration such as 30s`);
    const compression = values.compression ?? 'none';
    if (compression !== 'none' && compression !== 'gzip' && compression !== 'zstd')
      return usage(io, `--compression must be none, gzip or zstd, got "${compression}"`);
    if (compression === 'zstd' && protocol === 'grpc')
      return usage(io, '--compression zstd is for --protocol http (gRPC clients send gzip)');
    const numbers = {
      series: 10_000,
      rate: 0,
      'batch-points': 1000,
      concurrency: 8,
      'cardinality-bomb': 0,
    };
    for (const key of Object.keys(numbers) as (keyof typeof numbers)[]) {
      const raw = values[key];
      if (raw === undefined) continue;
      const n = Number(raw);
      if (!(Number.isInteger(n) && n >= 0))
        return usage(io, `--${key} must be a whole number, got "${raw}"`);
      numbers[key] = n;
    }
    const options: LoadgenOptions = {
      endpoint:
        values.endpoint ??
        (protocol === 'grpc' ? '127.0.0.1:4317' : 'http://127.0.0.1:4318/v1/metrics'),
      protocol,
      series: Math.max(1, numbers.series),
      batchPoints: Math.max(1, numbers['batch-points']),
      rate: numbers.rate,
      durationMs,
      concurrency: Math.max(1, numbers.concurrency),
      cardinalityBomb: numbers['cardinality-bomb'],
      churnMs,
      compression,
    };
    const result = await runLoad(options, io);
    io.out(values.json ? JSON.stringify(result) : loadSummary(options, result));
    return result.failedRequests === 0 ? 0 : 1;
  }
  if (command === 'top') {
    const iterations = Number(values.iterations ?? 0);
    if (!(Number.isInteger(iterations) && iterations >= 0))
      return usage(io, `--iterations must be a whole number, got "${values.iterations}"`);
    const stop = new AbortController();
    const interrupt = () => stop.abort();
    process.once('SIGINT', interrupt);
    try {
      return await runTop(
        {
          admin: values.admin ?? 'http://127.0.0.1:8888',
          token: values.token ?? process.env.SLUICE_ADMIN_TOKEN,
          tty: process.stdout.isTTY === true,
          iterations,
          signal: stop.signal,
        },
        io,
      );
    } finally {
      process.off('SIGINT', interrupt);
    }
  }
  if (command === 'dlq') {
    if (!values.dir) return usage(io, 'dlq needs --dir DIR (the dead_letter_dir of the exporter)');
    try {
      if (sub === 'list') return await listCommand(values.dir, values.json ?? false, io);
      if (sub === 'show') return await showCommand(values.dir, positionals[2], io);
      if (sub === 'replay') {
        if (!values.to)
          return usage(io, 'dlq replay needs --to URL (an OTLP/HTTP metrics endpoint)');
        const timeoutMs = Number(values.timeout ?? 10_000);
        if (!(timeoutMs > 0))
          return usage(io, `--timeout must be milliseconds > 0, got "${values.timeout}"`);
        return await replayCommand(values.dir, values.to, timeoutMs, io);
      }
    } catch (err) {
      io.err(`sluice dlq ${sub}: ${(err as Error).message}`);
      return 1;
    }
    return usage(io, `unknown dlq command "${sub ?? ''}" (known: list, show, replay)`);
  }
  return usage(
    io,
    `unknown command "${command}" (known: run, validate, components, loadgen, top, dlq, help, version)`,
  );
}

function usage(io: CliIo, message: string): number {
  io.err(`sluice: ${message}\nRun "sluice --help" for usage.`);
  return 2;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      dir: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'boolean' },
      timeout: { type: 'string' },
      config: { type: 'string', short: 'c' },
      endpoint: { type: 'string' },
      protocol: { type: 'string' },
      series: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      'batch-points': { type: 'string' },
      concurrency: { type: 'string' },
      'cardinality-bomb': { type: 'string' },
      admin: { type: 'string' },
      churn: { type: 'string' },
      compression: { type: 'string' },
      token: { type: 'string' },
      iterations: { type: 'string' },
    },
  });
}
