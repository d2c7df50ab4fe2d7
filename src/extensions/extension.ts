import type { z } from 'zod';
import type { ComponentFactory, FactorySpec } from '../model/component-factory.js';
import { defineFactory } from '../model/component-factory.js';
import type { Component, ComponentSettings } from '../model/consumer.js';

/**
 * An extension (the Collector's `extensions:` section, enabled by `service.extensions`):
 * started before every pipeline component and shut down after them, offering something the
 * components use — storage, authentication.
 */
export interface Extension extends Component {
  readonly id: string;
}

export type CreateExtension = (settings: ComponentSettings) => Extension;
export type ExtensionFactory = ComponentFactory<CreateExtension>;

/** An extension factory: its config schema and the extension it builds from a parsed config. */
export function defineExtension<Schema extends z.ZodType>(
  spec: FactorySpec<Schema> & {
    create(settings: ComponentSettings, config: z.output<Schema>): Extension;
  },
): ExtensionFactory {
  return defineFactory('extension', spec, (config) => (settings) => spec.create(settings, config));
}
