import { anyValueToPlain, type KeyValue } from '../../model/any-value.js';
import { BatchCopier } from '../../model/batch-copier.js';
import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { nameMatcher } from '../metric-match.js';
import { TransformProcessor } from '../processor-base.js';
import type { AttributeMatch, FilterConfig, Match } from './config.js';

/**
 * Keeps the points that match `include` (all of them when absent) and do not match
 * `exclude`. A rule matches when the metric name is one of `metric_names` (or matches one of
 * them as a regular expression) and every listed attribute is present (with the value, when
 * given). Filtered points are intentional: counted in `dropped` as `filtered`, not logged.
 */
export class FilterProcessor extends TransformProcessor {
  readonly #include: CompiledMatch | undefined;
  readonly #exclude: CompiledMatch | undefined;

  constructor(settings: ComponentSettings, config: FilterConfig, next: Consumer) {
    super(settings, next);
    this.#include = config.metrics.include && compile(config.metrics.include);
    this.#exclude = config.metrics.exclude && compile(config.metrics.exclude);
  }

  protected transform(batch: MetricBatch): MetricBatch {
    const metricKept = batch.metrics.map((metric) => {
      const name = metric.name;
      return (
        (!this.#include || this.#include.name(name)) &&
        !(this.#exclude?.name(name) && this.#exclude.attributeless)
      );
    });
    const resourceOf = (m: number) => batch.scopes[batch.metrics[m].scope].resource;
    const keep = (i: number) => {
      const series = batch.points.series[i];
      const m = batch.seriesMetric(series);
      if (!metricKept[m]) return false;
      const name = batch.metrics[m].name;
      const resource = batch.resources[resourceOf(m)].attributes;
      const attributes = () => batch.attributes.values(batch.seriesAttributes(series));
      if (
        this.#include &&
        !(this.#include.name(name) && this.#include.attributes(resource, attributes))
      )
        return false;
      if (this.#exclude?.name(name) && this.#exclude.attributes(resource, attributes)) return false;
      return true;
    };
    let all = true;
    for (let i = 0; i < batch.pointCount && all; i++) all = keep(i);
    if (all) return batch;
    const copier = new BatchCopier();
    copier.append(batch, 0, batch.pointCount, { keep });
    const filtered = batch.pointCount - copier.target.pointCount;
    if (filtered > 0) this.drop('filtered', filtered);
    return copier.target;
  }
}

interface CompiledMatch {
  name(name: string): boolean;
  attributes(resource: KeyValue[], point: () => KeyValue[]): boolean;
  /** True when the rule has no attribute conditions (whole metrics match by name). */
  attributeless: boolean;
}

/** The schema already refused patterns that do not compile. */
function compile(match: Match): CompiledMatch {
  const name =
    match.metric_names.length === 0
      ? () => true
      : nameMatcher(match.match_type, match.metric_names);
  const has = (values: KeyValue[], rule: AttributeMatch) =>
    values.some(
      (kv) =>
        kv.key === rule.key &&
        (rule.value === undefined || String(anyValueToPlain(kv.value)) === String(rule.value)),
    );
  return {
    name,
    attributeless: match.resource_attributes.length === 0 && match.attributes.length === 0,
    attributes: (resource, point) =>
      match.resource_attributes.every((rule) => has(resource, rule)) &&
      (match.attributes.length === 0 || match.attributes.every((rule) => has(point(), rule))),
  };
}
