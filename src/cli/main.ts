#!/usr/bin/env -S node --initial-old-space-size=128
// The flag (also in `npm start`) sets where V8's limit for the old generation starts. A
// collector's heap is small (~25 MB) while it handles hundreds of megabytes a second of
// request bodies in off-heap buffers; with the default start, V8 ran a full mark-compact
// ("GC in old space requested") seven times a second under load, a third of the CPU in some
// runs; with it, less than once a second (docs/benchmarks.md). It is a limit, not a
// reservation: peak RSS under that load stayed within a few megabytes.
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
