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
 * with `;` in sorted order, as the OTel specification says. Written for a series' first
 * sighting, which renders its labels once: sanitised names come from a cache, the handful
 * of pairs is sorted in place by insertion, and neighbours with one name are merged.
 */
export function mergeLabels(pairs: readonly LabelPair[]): LabelPair[] {
  const named: LabelPair[] = new Array(pairs.length);
  for (let i = 0; i < pairs.length; i++) {
    const pair: LabelPair = [labelName(pairs[i][0]), pairs[i][1]];
    // Insertion sort by name, then value: a series has a few labels, often in order already.
    let j = i;
    while (j > 0 && comparePairs(named[j - 1], pair) > 0) {
      named[j] = named[j - 1];
      j--;
    }
    named[j] = pair;
  }
  const merged: LabelPair[] = [];
  for (const pair of named) {
    const last = merged.at(-1);
    if (last !== undefined && last[0] === pair[0]) last[1] = `${last[1]};${pair[1]}`;
    else merged.push(pair);
  }
  return merged;
}

function comparePairs([aName, aValue]: LabelPair, [bName, bValue]: LabelPair): number {
  if (aName !== bName) return aName < bName ? -1 : 1;
  return aValue < bValue ? -1 : aValue > bValue ? 1 : 0;
}

/** Attribute keys repeat series after series: their sanitised names, kept (bounded). */
const labelNames = new Map<string, string>();
const LABEL_NAMES_KEPT = 4096;

function labelName(key: string): string {
  let name = labelNames.get(key);
  if (name === undefined) {
    name = sanitizeLabelName(key);
    if (labelNames.size >= LABEL_NAMES_KEPT) labelNames.clear();
    labelNames.set(key, name);
  }
  return name;
}

/** A number the way Prometheus writes it (`+Inf`, `-Inf`, `NaN`, else JavaScript's form). */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
