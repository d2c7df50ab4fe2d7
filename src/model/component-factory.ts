import type { z } from 'zod';

/** What the collector can run: the OpenTelemetry Collector's component kinds. */
export type ComponentKind = 'receiver' | 'processor' | 'exporter' | 'extension';

/**
 * A config checked against its component's schema: the typed config bound into `create`
 * (so nothing between the config loader and the collector holds an untyped config), or
 * the schema's issues.
 */
export type Configured<Create> =
  | { ok: true; config: unknown; create: Create }
  | { ok: false; issues: z.core.$ZodIssue[] };

/**
 * One registry entry. `Create` is the kind's constructor signature (see `defineReceiver`,
 * `defineProcessor`, `defineExporter`); the config type stays inside the factory.
 */
export interface ComponentFactory<Create> {
  readonly kind: ComponentKind;
  readonly type: string;
  /** One line for `sluice components`. */
  readonly description: string;
  /**
   * The config a user starts from, as YAML would give it: the keys one sets first (where it
   * listens, the backend's URL, a path), everything else left to the schema's defaults. It
   * validates as it is; `sluice components` shows it, and the registry's conformance test
   * runs every component from it.
   */
  createDefaultConfig(): Record<string, unknown>;
  configure(raw: unknown): Configured<Create>;
  /** The schema `configure` checks against (the config loader reads its keys for hints). */
  readonly configSchema: z.ZodType;
}

export interface FactorySpec<Schema extends z.ZodType> {
  type: string;
  description: string;
  configSchema: Schema;
  /** See `ComponentFactory.createDefaultConfig` (default: `{}`, every key defaulted). */
  defaultConfig?: Record<string, unknown>;
}

/** Builds a factory of `kind` whose `create` is `bind(config)` for a config that parsed. */
export function defineFactory<Schema extends z.ZodType, Create>(
  kind: ComponentKind,
  spec: FactorySpec<Schema>,
  bind: (config: z.output<Schema>) => Create,
): ComponentFactory<Create> {
  return {
    kind,
    type: spec.type,
    description: spec.description,
    configSchema: spec.configSchema,
    createDefaultConfig: () => structuredClone(spec.defaultConfig ?? {}),
    configure(raw) {
      const result = spec.configSchema.safeParse(raw ?? {});
      if (!result.success) return { ok: false, issues: result.error.issues };
      return { ok: true, config: result.data, create: bind(result.data) };
    },
  };
}
