import type { z } from 'zod';
import type { DeliveryEngine } from '../../delivery/delivery-engine.js';
import type { ComponentFactory, FactorySpec } from '../../model/component-factory.js';
import { defineFactory } from '../../model/component-factory.js';
import type { Component, ComponentSettings, Consumer } from '../../model/consumer.js';

/** What the collector and its admin server read from every exporter: a consumer and a component. */
export interface Exporter extends Consumer, Component {
  readonly id: string;
  /**
   * The delivery engine behind it, when it has one (queue, retries, breaker, dead letters:
   * the `sluice_exporter_*` lines on `/metrics`).
   */
  readonly engine?: DeliveryEngine;
  /** Points it lost, by reason: `sluice_dropped_points_total{exporter,reason}`. */
  readonly dropped: Readonly<Record<string, number>>;
  /** Where it serves data itself (a scrape endpoint), for the startup banner. */
  readonly addresses?: readonly string[];
  /** An exporter that serves (a scrape endpoint): clients it turned away, by reason. */
  readonly refusedRequests?: Readonly<Record<string, number>>;
  /** An exporter that serves: its listeners and what protects them. */
  readonly listeners?: readonly import('../../model/auth.js').ListenerProtection[];
}

export type CreateExporter = (settings: ComponentSettings) => Exporter;
export type ExporterFactory = ComponentFactory<CreateExporter>;

/** An exporter factory: its config schema and the exporter it builds from a parsed config. */
export function defineExporter<Schema extends z.ZodType>(
  spec: FactorySpec<Schema> & {
    create(settings: ComponentSettings, config: z.output<Schema>): Exporter;
  },
): ExporterFactory {
  return defineFactory('exporter', spec, (config) => (settings) => spec.create(settings, config));
}
