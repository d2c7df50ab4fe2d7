/**
 * The tables the `postgresql` exporter writes, created when missing. One row per point:
 * number points (gauges, sums) in one table, distributions (histograms, exponential
 * histograms, summaries) in another. Attributes and resource are `jsonb`; the primary key
 * (series hash, exact time in ns) makes a retried batch insert nothing twice.
 */
export interface TableNames {
  schema: string;
  points: string;
  histograms: string;
}

/** Columns shared by both tables, in COPY order. */
const COMMON_COLUMNS = [
  'time',
  'start_time',
  'time_unix_nano',
  'metric',
  'type',
  'temporality',
  'unit',
  'attributes',
  'resource',
  'scope',
  'series_hash',
] as const;

export const POINT_COLUMNS = [...COMMON_COLUMNS, 'monotonic', 'value'] as const;

export const HISTOGRAM_COLUMNS = [
  ...COMMON_COLUMNS,
  'count',
  'sum',
  'min',
  'max',
  'bounds',
  'bucket_counts',
  'scale',
  'zero_count',
  'positive_offset',
  'positive_counts',
  'negative_offset',
  'negative_counts',
  'quantiles',
] as const;

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(tables: TableNames, table: string): string {
  return `${quoteIdentifier(tables.schema)}.${quoteIdentifier(table)}`;
}

/** DDL for both tables and their time + metric name indexes (idempotent). */
export function createTablesSql(tables: TableNames): string {
  const points = qualified(tables, tables.points);
  const histograms = qualified(tables, tables.histograms);
  const common = `
  time timestamptz NOT NULL,
  start_time timestamptz,
  time_unix_nano bigint NOT NULL,
  metric text NOT NULL,
  type text NOT NULL,
  temporality text,
  unit text NOT NULL DEFAULT '',
  attributes jsonb NOT NULL,
  resource jsonb NOT NULL,
  scope text NOT NULL DEFAULT '',
  series_hash bigint NOT NULL,`;
  return `
CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(tables.schema)};
CREATE TABLE IF NOT EXISTS ${points} (${common}
  monotonic boolean,
  value double precision NOT NULL,
  PRIMARY KEY (series_hash, time_unix_nano)
);
CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${tables.points}_metric_time`)} ON ${points} (metric, time);
CREATE TABLE IF NOT EXISTS ${histograms} (${common}
  count bigint NOT NULL,
  sum double precision,
  min double precision,
  max double precision,
  bounds double precision[],
  bucket_counts bigint[],
  scale integer,
  zero_count bigint,
  positive_offset integer,
  positive_counts bigint[],
  negative_offset integer,
  negative_counts bigint[],
  quantiles jsonb,
  PRIMARY KEY (series_hash, time_unix_nano)
);
CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${tables.histograms}_metric_time`)} ON ${histograms} (metric, time);
`;
}
