import type { z } from 'zod';
import type { ComponentFactory, FactorySpec } from '../model/component-factory.js';
import { defineFactory } from '../model/component-factory.js';
import type { Component, ComponentSettings, Consumer } from '../model/consumer.js';

/** What the collector and its admin server read from every processor. */
export interface Processor extends Component, Consumer {
  /**
   * Points it did not pass on, by reason (filtered, out of order, refused downstream at one
   * of its own flushes, ...): `sluice_dropped_points_total{processor,reason}`. A processor
   * that never drops has an empty record.
   */
  readonly dropped: Readonly<Record<string, number>>;
  /**
   * Parts of its stored state it could not read at start and went on without (a snapshot
   * failing its checksum, a torn journal tail, a chunk gone from the tier's state stream),
   * for a processor that keeps state: `sluice_processor_state_unreadable_total{processor}`.
   * What only those parts held is lost, and cannot be counted in points.
   */
  readonly unreadableState?: number;
}

export type CreateProcessor = (settings: ComponentSettings, next: Consumer) => Processor;
export type ProcessorFactory = ComponentFactory<CreateProcessor>;

/** A processor factory: its config schema and the processor it builds from a parsed config. */
export function defineProcessor<Schema extends z.ZodType>(
  spec: FactorySpec<Schema> & {
    create(settings: ComponentSettings, config: z.output<Schema>, next: Consumer): Processor;
  },
): ProcessorFactory {
  return defineFactory(
    'processor',
    spec,
    (config) => (settings, next) => spec.create(settings, config, next),
  );
}

/** Adds `points` to `counts[reason]`: the one way drop records are kept. */
export function countDrop(counts: Record<string, number>, reason: string, points: number): void {
  counts[reason] = (counts[reason] ?? 0) + points;
}
