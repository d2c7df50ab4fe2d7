import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeFlatJsonLines } from '../codec/flat/flat-json-lines.js';
import { decodeMetricsRequest } from '../codec/protobuf/decode-request.js';
import { listDeadLetters } from '../delivery/dead-letters.js';
import { OtlpHttpSender } from '../exporters/otlphttp/otlp-http-sender.js';
import type { CliIo } from './io.js';

/** `sluice dlq list --dir DIR [--json]`: what is in a dead-letter directory, oldest first. */
export async function listCommand(dir: string, json: boolean, io: CliIo): Promise<number> {
  const records = await listDeadLetters(dir);
  if (json) {
    io.out(JSON.stringify(records, null, 2));
    return 0;
  }
  if (records.length === 0) {
    io.out(`no dead letters in ${dir}`);
    return 0;
  }
  const rows = [
    ['time', 'reason', 'points', 'status', 'destination', 'message'],
    ...records.map((r) => [
      r.time,
      r.reason,
      String(r.points),
      r.status === undefined ? '' : String(r.status),
      r.destination,
      r.message.slice(0, 60),
    ]),
  ];
  const widths = rows[0].map((_, k) => Math.max(...rows.map((row) => row[k].length)));
  for (const row of rows)
    io.out(
      row
        .map((cell, k) => cell.padEnd(widths[k]))
        .join('  ')
        .trimEnd(),
    );
  const points = records.reduce((n, r) => n + r.points, 0);
  io.out(`${records.length} dead letters, ${points} points`);
  return 0;
}

/** `sluice dlq show --dir DIR [FILE]`: the points of one or every dead letter, as flat JSON lines. */
export async function showCommand(
  dir: string,
  file: string | undefined,
  io: CliIo,
): Promise<number> {
  const records = await listDeadLetters(dir);
  const chosen = file
    ? records.filter((r) => r.file === file || r.file === `${file}.binpb`)
    : records;
  if (file && chosen.length === 0) {
    io.err(`sluice dlq show: no dead letter named "${file}" in ${dir} (see sluice dlq list)`);
    return 1;
  }
  for (const record of chosen) {
    const batch = decodeMetricsRequest(await readFile(join(dir, record.file)));
    io.out(encodeFlatJsonLines(batch).trimEnd());
  }
  return 0;
}

/**
 * `sluice dlq replay --dir DIR --to URL`: sends every dead letter to an OTLP/HTTP endpoint.
 * Delivered files move to `DIR/replayed/`; failed ones stay, and the exit code is 1.
 */
export async function replayCommand(
  dir: string,
  to: string,
  timeoutMs: number,
  io: CliIo,
): Promise<number> {
  const records = await listDeadLetters(dir);
  const sender = new OtlpHttpSender({ url: to });
  const done = join(dir, 'replayed');
  let sent = 0;
  let failed = 0;
  try {
    for (const record of records) {
      const path = join(dir, record.file);
      try {
        const batch = decodeMetricsRequest(await readFile(path));
        const result = await sender.send(batch, AbortSignal.timeout(timeoutMs));
        await mkdir(done, { recursive: true });
        await rename(path, join(done, record.file));
        await rename(
          path.replace(/\.binpb$/, '.json'),
          join(done, record.file.replace(/\.binpb$/, '.json')),
        );
        sent += batch.pointCount - result.rejectedPoints;
        io.out(
          `replayed ${record.file}: ${batch.pointCount} points${result.rejectedPoints ? ` (${result.rejectedPoints} rejected by the backend)` : ''}`,
        );
      } catch (err) {
        failed++;
        io.err(`could not replay ${record.file}: ${(err as Error).message}`);
      }
    }
  } finally {
    await sender.close();
  }
  io.out(
    `${records.length - failed} of ${records.length} dead letters replayed to ${to} (${sent} points)`,
  );
  return failed === 0 ? 0 : 1;
}
