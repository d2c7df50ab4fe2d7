import { createHash } from 'node:crypto';
import { anyValueToPlain, type KeyValue, toAnyValue } from '../../model/any-value.js';
import { BatchCopier } from '../../model/batch-copier.js';
import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { TransformProcessor } from '../processor-base.js';
import type { AttributeAction, AttributesConfig } from './config.js';

/** Applies the actions in order to a list of key-values; returns a new list. */
export function applyActions(
  values: readonly KeyValue[],
  actions: readonly AttributeAction[],
): KeyValue[] {
  let out = [...values];
  for (const a of actions) {
    const index = out.findIndex((kv) => kv.key === a.key);
    const source =
      a.from_attribute === undefined ? undefined : out.find((kv) => kv.key === a.from_attribute);
    const value =
      a.from_attribute !== undefined
        ? source?.value
        : a.value === undefined
          ? undefined
          : toAnyValue(a.value);
    switch (a.action) {
      case 'insert':
        if (index === -1 && value !== undefined) out.push({ key: a.key, value });
        break;
      case 'update':
        if (index !== -1 && value !== undefined) out[index] = { key: a.key, value };
        break;
      case 'upsert':
        if (value === undefined) break;
        if (index === -1) out.push({ key: a.key, value });
        else out[index] = { key: a.key, value };
        break;
      case 'delete':
        out = out.filter((kv) => kv.key !== a.key);
        break;
      case 'hash':
        if (index !== -1) {
          const plain = anyValueToPlain(out[index].value);
          const text = typeof plain === 'string' ? plain : JSON.stringify(plain);
          out[index] = { key: a.key, value: createHash('sha256').update(text).digest('hex') };
        }
        break;
    }
  }
  return out;
}

/** Applies `actions` to point attributes (`attributes`) or resource attributes (`resource`). */
export class AttributesProcessor extends TransformProcessor {
  readonly #actions: AttributeAction[];
  readonly #target: 'point' | 'resource';

  constructor(
    settings: ComponentSettings,
    config: AttributesConfig,
    next: Consumer,
    target: 'point' | 'resource',
  ) {
    super(settings, next);
    this.#actions = config.actions;
    this.#target = target;
  }

  protected transform(batch: MetricBatch): MetricBatch {
    const copier = new BatchCopier();
    const map = (values: KeyValue[]) => applyActions(values, this.#actions);
    copier.append(
      batch,
      0,
      batch.pointCount,
      this.#target === 'point' ? { mapAttributes: map } : { mapResourceAttributes: map },
    );
    return copier.target;
  }
}
