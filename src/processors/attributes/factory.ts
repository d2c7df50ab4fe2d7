import { createHash } from 'node:crypto';
import { z } from 'zod';
import { anyValueToPlain, type KeyValue, toAnyValue } from '../../model/any-value.js';
import { BatchCopier } from '../../model/batch-copier.js';
import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { TransformProcessor } from '../processor-base.js';

const action = z
  .strictObject({
    key: z.string().min(1),
    action: z.enum(['insert', 'update', 'upsert', 'delete', 'hash']),
    value: z.union([z.string(), z.number(), z.boolean()]).optional(),
    from_attribute: z.string().optional(),
  })
  .refine(
    (a) =>
      !['insert', 'update', 'upsert'].includes(a.action) ||
      a.value !== undefined ||
      a.from_attribute !== undefined,
    {
      message: 'insert, update and upsert need value or from_attribute',
    },
  );

/** The Collector's `attributes` (point attributes) and `resource` (resource attributes) processors. */
export const attributesConfig = z.strictObject({
  actions: z.array(action).min(1, 'list at least one action'),
});
export type AttributesConfig = z.infer<typeof attributesConfig>;
type Action = z.infer<typeof action>;

/** Applies the actions in order to a list of key-values; returns a new list. */
export function applyActions(values: readonly KeyValue[], actions: readonly Action[]): KeyValue[] {
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

class AttributesProcessor extends TransformProcessor {
  readonly #actions: Action[];
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

export const attributesProcessorFactory = {
  type: 'attributes',
  configSchema: attributesConfig,
  create(settings: ComponentSettings, config: AttributesConfig, next: Consumer) {
    return new AttributesProcessor(settings, config, next, 'point');
  },
};

export const resourceProcessorFactory = {
  type: 'resource',
  configSchema: attributesConfig,
  create(settings: ComponentSettings, config: AttributesConfig, next: Consumer) {
    return new AttributesProcessor(settings, config, next, 'resource');
  },
};
