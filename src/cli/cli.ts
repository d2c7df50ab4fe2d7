import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const HELP = `sluice ${version} — a high-throughput OpenTelemetry metrics pipeline for Node.js

Usage:
  sluice [command] [options]

Commands:
  help                 show this help
  version              print the version

Options:
  -h, --help           show this help
  -v, --version        print the version

The collector (sluice run, validate, loadgen, dlq) arrives with the collector release;
until then, use sluice as a library:

  import { fromResourceMetrics, encodeMetricsRequest } from 'sluice';
  const bytes = encodeMetricsRequest(fromResourceMetrics(resourceMetrics));

Docs: README.md, docs/benchmarks.md`;

/** Runs the `sluice` command line; returns the process exit code. */
export function runCli(argv: string[], io: CliIo): number {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`sluice: ${(err as Error).message}\nRun "sluice --help" for usage.`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version || positionals[0] === 'version') {
    io.out(version);
    return 0;
  }
  if (values.help || positionals.length === 0 || positionals[0] === 'help') {
    io.out(HELP);
    return 0;
  }
  io.err(
    `sluice: unknown command "${positionals[0]}" (known: help, version)\nRun "sluice --help" for usage.`,
  );
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
    },
  });
}
