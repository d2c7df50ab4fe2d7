import { anyValueToPlain, type KeyValue } from '../../model/any-value.js';
import type { MetricDescriptor, Scope } from '../../model/types.js';
import { MetricType } from '../../model/types.js';
import { isCounter, sanitizeLabelName } from './naming.js';

/** The OTel → Prometheus label rules, shared by the scrape endpoint and remote write. */
export type LabelPair = [name: string, value: string];

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Resource attributes that become `job` and `instance` rather than labels of their own. */
const RESOURCE_IDENTITY = new Set(['service.name', 'service.namespace', 'service.instance.id']);

/** The Prometheus type of a metric (exponential histograms become classic histograms). */
export function familyType(metric: MetricDescriptor): FamilyType {
  if (metric.type === MetricType.Histogram || metric.type === MetricType.ExponentialHistogram) {
    return 'histogram';
  }
  if (metric.type === MetricType.Summary) return 'summary';
  return isCounter(metric) ? 'counter' : 'gauge';
}

/** Attributes as label pairs: strings as they are, other values as JSON. */
export function attributeLabels(attributes: readonly KeyValue[]): LabelPair[] {
  return attributes.map((kv) => {
    const plain = anyValueToPlain(kv.value);
    return [kv.key, typeof plain === 'string' ? plain : JSON.stringify(plain)];
  });
}

/**
 * `job` (`service.namespace/service.name`) and `instance` (`service.instance.id`) of a
 * resource, plus its other attributes when `allAttributes` (the Collector's
 * `resource_to_telemetry_conversion`).
 */
export function resourceLabels(
  attributes: readonly KeyValue[],
  allAttributes: boolean,
): LabelPair[] {
  const get = (key: string) => {
    const found = attributes.find((kv) => kv.key === key);
    return found === undefined ? undefined : String(anyValueToPlain(found.value));
  };
  const service = get('service.name');
  const namespace = get('service.namespace');
  const instance = get('service.instance.id');
  const labels: LabelPair[] = [];
  if (service) labels.push(['job', namespace ? `${namespace}/${service}` : service]);
  if (instance) labels.push(['instance', instance]);
  if (allAttributes) {
    for (const kv of attributes) {
      if (!RESOURCE_IDENTITY.has(kv.key)) labels.push([kv.key, String(anyValueToPlain(kv.value))]);
    }
  }
  return labels;
}

/**
 * Labels of a resource's `target_info` series (value 1): its attributes other than the
 * identity, with `job` and `instance`; undefined when there is nothing to say.
 */
export function targetInfoLabels(
  attributes: readonly KeyValue[],
  identity: readonly LabelPair[],
): LabelPair[] | undefined {
  const rest = attributes.filter((kv) => !RESOURCE_IDENTITY.has(kv.key));
  if (rest.length === 0 && identity.length === 0) return undefined;
  return [...attributeLabels(rest), ...identity.filter(([k]) => k === 'job' || k === 'instance')];
}

export function scopeLabels(scope: Pick<Scope, 'name' | 'version'>): LabelPair[] {
  const labels: LabelPair[] = [];
  if (scope.name) labels.push(['otel_scope_name', scope.name]);
  if (scope.version) labels.push(['otel_scope_version', scope.version]);
  return labels;
}

/**
 * Sanitised label names, sorted; values of keys that collide after sanitising are joined
 * with `;` in sorted order, as the OTel specification says.
 */
export function mergeLabels(pairs: readonly LabelPair[]): LabelPair[] {
  const merged = new Map<string, string[]>();
  for (const [key, value] of pairs) {
    const name = sanitizeLabelName(key);
    const values = merged.get(name);
    if (values) values.push(value);
    else merged.set(name, [value]);
  }
  return [...merged.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, values]) => [name, values.sort().join(';')]);
}

/** A number the way Prometheus writes it (`+Inf`, `-Inf`, `NaN`, else JavaScript's form). */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
