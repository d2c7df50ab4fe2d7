import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ComponentSettings } from '../../model/consumer.js';
import { type ExporterHelperConfig, exporterHelperKeys } from '../helper/config.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { PostgresSender } from './postgres-sender.js';

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'expected a plain SQL identifier (letters, digits, _)');

/**
 * `postgresql`: `endpoint` (a postgres:// URL), where the rows go (`schema`, `points_table`,
 * `histograms_table`, created when missing unless `create_tables: false`), the pool size
 * (default: one connection per consumer), TLS, and the shared queue/retry/timeout blocks.
 */
export const postgresqlExporterConfig = z.strictObject({
  endpoint: z
    .string()
    .regex(
      /^postgres(ql)?:\/\//,
      'expected a postgres:// URL, e.g. postgres://user:pass@127.0.0.1:5432/metrics',
    ),
  schema: identifier.default('public'),
  points_table: identifier.default('metric_points'),
  histograms_table: identifier.default('metric_histograms'),
  create_tables: z.boolean().default(true),
  pool_size: z.number().int().min(1).optional(),
  tls: z
    .strictObject({
      enabled: z.boolean().default(true),
      ca_file: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      insecure_skip_verify: z.boolean().default(false),
    })
    .optional(),
  ...exporterHelperKeys,
});

export type PostgresqlExporterConfig = z.infer<typeof postgresqlExporterConfig>;

export const postgresqlExporterFactory = {
  type: 'postgresql',
  configSchema: postgresqlExporterConfig,
  create(settings: ComponentSettings, config: PostgresqlExporterConfig) {
    const tls = config.tls;
    const sender = new PostgresSender({
      endpoint: config.endpoint,
      tables: {
        schema: config.schema,
        points: config.points_table,
        histograms: config.histograms_table,
      },
      createTables: config.create_tables,
      poolSize: config.pool_size ?? config.sending_queue.num_consumers,
      statementTimeoutMs: config.timeout,
      ssl:
        tls?.enabled === true
          ? {
              rejectUnauthorized: !tls.insecure_skip_verify,
              ca: tls.ca_file ? readFileSync(tls.ca_file, 'utf8') : undefined,
              cert: tls.cert_file ? readFileSync(tls.cert_file, 'utf8') : undefined,
              key: tls.key_file ? readFileSync(tls.key_file, 'utf8') : undefined,
            }
          : undefined,
    });
    return new QueuedExporter(settings, config as ExporterHelperConfig, sender);
  },
};
