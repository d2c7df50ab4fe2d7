import { clientTlsOptions } from '../../net/client-tls.js';
import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { postgresqlExporterConfig } from './config.js';
import { PostgresSender } from './postgres-sender.js';

export const postgresqlExporterFactory = defineExporter({
  type: 'postgresql',
  description: 'Rows in PostgreSQL tables, written with COPY in one transaction per batch',
  configSchema: postgresqlExporterConfig,
  defaultConfig: { endpoint: 'postgres://sluice@127.0.0.1:5432/metrics' },
  create(settings, config) {
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
      ssl: tls?.enabled ? clientTlsOptions(tls, `exporters.${settings.id}.tls`) : undefined,
    });
    return new QueuedExporter(settings, config, sender);
  },
});
