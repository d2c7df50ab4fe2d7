import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PermanentError, RetryableError } from '../../delivery/errors.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { skippedResult } from '../helper/skipped-points.js';
import { CopyRowsWriter } from './copy-rows.js';
import {
  createTablesSql,
  HISTOGRAM_COLUMNS,
  POINT_COLUMNS,
  qualified,
  quoteIdentifier,
  type TableNames,
} from './schema.js';

export interface PostgresSenderOptions {
  /** `postgres://user:password@host:port/database` */
  endpoint: string;
  tables: TableNames;
  createTables: boolean;
  poolSize: number;
  /** Server-side limit per statement, so a stuck write ends and is retried. */
  statementTimeoutMs: number;
  ssl?: pg.ConnectionConfig['ssl'];
}

/**
 * Writes batches into PostgreSQL with `COPY` (the fastest way in) through a connection
 * pool. Each batch is one transaction: COPY into temporary tables, then
 * `INSERT ... ON CONFLICT DO NOTHING` into the real ones, so a batch retried after a lost
 * answer adds no duplicate rows (key: series hash + time in ns).
 */
export class PostgresSender implements Sender {
  readonly destination: string;
  readonly #options: PostgresSenderOptions;
  readonly #pool: pg.Pool;
  readonly #rows = new CopyRowsWriter();
  #ready: Promise<void> | undefined;

  constructor(options: PostgresSenderOptions) {
    this.#options = options;
    const url = new URL(options.endpoint);
    url.password = url.password ? '***' : '';
    this.destination = url.toString();
    this.#pool = new pg.Pool({
      connectionString: options.endpoint,
      max: options.poolSize,
      ssl: options.ssl,
      statement_timeout: options.statementTimeoutMs,
      application_name: 'sluice',
    });
    // A client that loses its connection emits 'error' besides failing its query (which
    // the send already turns into a retry): neither an idle one (the pool's event) nor
    // one in use (each client's own, below) may crash the process.
    this.#pool.on('error', () => {});
    this.#pool.on('connect', (client) => client.on('error', () => {}));
  }

  async send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    const rows = this.#rows.write(batch);
    const result = skippedResult(rows.skipped);
    if (rows.pointRows + rows.histogramRows === 0) return result;
    try {
      await this.#createTables();
      const client = await this.#pool.connect();
      const abort = () => client.release(new Error('send aborted'));
      signal.addEventListener('abort', abort, { once: true });
      let failed: unknown;
      try {
        await client.query('BEGIN');
        if (rows.pointRows > 0) {
          await this.#copyInto(client, this.#options.tables.points, POINT_COLUMNS, rows.points);
        }
        if (rows.histogramRows > 0) {
          await this.#copyInto(
            client,
            this.#options.tables.histograms,
            HISTOGRAM_COLUMNS,
            rows.histograms,
          );
        }
        await client.query('COMMIT');
      } catch (err) {
        failed = err;
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        signal.removeEventListener('abort', abort);
        if (!signal.aborted)
          client.release(failed instanceof Error && isConnectionError(failed) ? failed : undefined);
      }
    } catch (err) {
      throw classify(err);
    }
    return result;
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  #createTables(): Promise<void> {
    if (!this.#options.createTables) return Promise.resolve();
    this.#ready ??= this.#pool.query(createTablesSql(this.#options.tables)).then(
      () => undefined,
      (err) => {
        this.#ready = undefined; // try again with the next batch
        throw err;
      },
    );
    return this.#ready;
  }

  async #copyInto(
    client: pg.PoolClient,
    table: string,
    columns: readonly string[],
    text: string,
  ): Promise<void> {
    const target = qualified(this.#options.tables, table);
    const staging = quoteIdentifier(`sluice_staging_${table}`);
    const list = columns.map(quoteIdentifier).join(', ');
    // A temporary table per connection, emptied at commit.
    await client.query(
      `CREATE TEMP TABLE IF NOT EXISTS ${staging} (LIKE ${target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
    );
    await pipeline(
      Readable.from([text]),
      client.query(copyFrom(`COPY ${staging} (${list}) FROM STDIN`)),
    );
    await client.query(
      `INSERT INTO ${target} (${list}) SELECT ${list} FROM ${staging} ON CONFLICT DO NOTHING`,
    );
  }
}

/** SQLSTATE classes worth retrying: connection, resources, operator intervention, rollbacks. */
const RETRYABLE_CLASSES = new Set(['08', '53', '57', '40', '58']);

function isConnectionError(err: Error): boolean {
  const code = (err as { code?: string }).code;
  return code === undefined || code.startsWith('08') || code.startsWith('57');
}

/**
 * Server errors by SQLSTATE: bad data, a missing table, no permission (classes 22, 23, 42,
 * 28, ...) fail for good and go to dead letters; connection trouble and the rest are retried.
 */
function classify(err: unknown): PermanentError | RetryableError {
  const e = err as Error & { code?: string; severity?: string };
  const code = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const message = `PostgreSQL: ${e?.message ?? String(err)}${code ? ` (SQLSTATE ${code})` : ''}`;
  if (code && !RETRYABLE_CLASSES.has(code.slice(0, 2))) return new PermanentError(message);
  return new RetryableError(message, { cause: err });
}
