import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the JSON sidecar of a dead letter says. */
export interface DeadLetterRecord {
  /** Why it could not be delivered: `permanent`, `retries_exhausted`, `shutdown`, ... */
  reason: string;
  destination: string;
  /** HTTP status or gRPC code of the last answer, if there was one. */
  status?: number;
  message: string;
  points: number;
  bytes: number;
  /** When it was written (RFC 3339). */
  time: string;
  /** The request file beside this sidecar. */
  file: string;
}

/**
 * Writes undeliverable requests to a directory: one OTLP `ExportMetricsServiceRequest`
 * protobuf per file (`<time>-<reason>-<n>.binpb`) and a JSON sidecar (`.json`) saying why.
 * Files are written under a temporary name and renamed, so a reader never sees half a file.
 */
export class DeadLetterWriter {
  readonly dir: string;
  #ready: Promise<unknown> | undefined;
  #counter = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  async write(
    request: Uint8Array,
    record: Omit<DeadLetterRecord, 'time' | 'file' | 'bytes'>,
  ): Promise<DeadLetterRecord> {
    this.#ready ??= mkdir(this.dir, { recursive: true });
    await this.#ready;
    const time = new Date();
    const stamp = time.toISOString().replace(/[:.]/g, '-');
    const base = `${stamp}-${safe(record.reason)}-${process.pid}-${++this.#counter}`;
    const file = `${base}.binpb`;
    const full: DeadLetterRecord = {
      ...record,
      bytes: request.length,
      time: time.toISOString(),
      file,
    };
    await writeAtomically(join(this.dir, file), request);
    await writeAtomically(join(this.dir, `${base}.json`), `${JSON.stringify(full, null, 2)}\n`);
    return full;
  }
}

/** The dead letters in `dir`, oldest first, with their sidecars. */
export async function listDeadLetters(dir: string): Promise<DeadLetterRecord[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records: DeadLetterRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    records.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as DeadLetterRecord);
  }
  return records;
}

async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}

function safe(text: string): string {
  return text.replace(/[^a-z0-9_]+/gi, '_').slice(0, 40);
}
