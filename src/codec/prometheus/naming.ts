import { type MetricDescriptor, MetricType, Temporality } from '../../model/types.js';

/**
 * OpenTelemetry → Prometheus names, per the OTel specification's Prometheus compatibility
 * rules as the Collector's translator applies them: illegal characters become `_`, the unit
 * (UCUM) is spelled out and appended unless already there, `{annotations}` are dropped,
 * gauges with unit `1` get `_ratio`, and monotonic cumulative sums get `_total`.
 */

const UNITS: Record<string, string> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};

const PER_UNITS: Record<string, string> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

/** Replaces characters Prometheus does not allow in metric names and folds runs of `_`. */
export function sanitizeMetricName(name: string): string {
  const cleaned = name
    .replace(/[^a-zA-Z0-9_:]/g, '_')
    .replace(/__+/g, '_')
    .replace(/^_+|_+$/g, '');
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

/** Label names: `[a-zA-Z_][a-zA-Z0-9_]*`; a leading digit gets a `key_` prefix. */
export function sanitizeLabelName(key: string): string {
  const cleaned = key.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(cleaned)) return `key_${cleaned}`;
  if (cleaned.startsWith('__') && !key.startsWith('__')) return cleaned.replace(/^_+/, '_');
  return cleaned;
}

/** The unit as a name suffix: `ms` → `milliseconds`, `By/s` → `bytes_per_second`, `{req}` → none. */
export function unitSuffix(unit: string): string {
  const withoutAnnotations = unit.replace(/\{[^}]*\}/g, '').trim();
  if (withoutAnnotations === '' || withoutAnnotations === '1') return '';
  const [main, per] = withoutAnnotations.split('/', 2);
  const mainName = UNITS[main] ?? main;
  const perName = per === undefined ? '' : (PER_UNITS[per] ?? per);
  const joined = perName ? (mainName ? `${mainName}_per_${perName}` : `per_${perName}`) : mainName;
  return joined.replace(/[^a-zA-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

/** Whether a sum is exposed as a Prometheus counter (monotonic, cumulative or delta accumulated). */
export function isCounter(metric: MetricDescriptor): boolean {
  return metric.type === MetricType.Sum && metric.monotonic;
}

/** The Prometheus metric family name of an OTel metric (`add_metric_suffixes` on by default). */
export function prometheusName(
  metric: MetricDescriptor,
  options: { namespace?: string; addSuffixes?: boolean } = {},
): string {
  let name = sanitizeMetricName(
    options.namespace ? `${options.namespace}_${metric.name}` : metric.name,
  );
  if (options.addSuffixes === false) return name;
  const tokens = name.split('_');
  const unit = unitSuffix(metric.unit);
  if (unit && !endsWithTokens(tokens, unit.split('_'))) name = `${name}_${unit}`;
  if (metric.type === MetricType.Gauge && metric.unit.trim() === '1' && !name.endsWith('_ratio'))
    name = `${name}_ratio`;
  if (isCounter(metric)) {
    name = name.replace(/_total(?=_|$)/g, '').replace(/__+/g, '_');
    name = `${name}_total`;
  }
  return name;
}

/** For temporality checks by callers: delta sums must be accumulated before exposure. */
export function isDelta(metric: MetricDescriptor): boolean {
  return metric.temporality === Temporality.Delta;
}

function endsWithTokens(tokens: string[], suffix: string[]): boolean {
  if (suffix.length > tokens.length) return false;
  return suffix.every((token, k) => tokens[tokens.length - suffix.length + k] === token);
}
