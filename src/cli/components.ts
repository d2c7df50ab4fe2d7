import { exporters, extensions, processors, receivers } from '../collector/registry.js';
import type { ComponentFactory } from '../model/component-factory.js';
import type { CliIo } from './io.js';

const SECTIONS = { receivers, processors, exporters, extensions } as const;

interface ComponentListing {
  type: string;
  description: string;
  /** The config a user starts from (`createDefaultConfig`). */
  default_config: Record<string, unknown>;
}

/** What this build can run, by section, in the order `sluice components` prints it. */
export function listComponents(): Record<keyof typeof SECTIONS, ComponentListing[]> {
  const listing = (registry: Record<string, ComponentFactory<unknown>>) =>
    Object.values(registry)
      .map((factory) => ({
        type: factory.type,
        description: factory.description,
        default_config: factory.createDefaultConfig(),
      }))
      .sort((a, b) => a.type.localeCompare(b.type));
  return {
    receivers: listing(receivers),
    processors: listing(processors),
    exporters: listing(exporters),
    extensions: listing(extensions),
  };
}

/**
 * `sluice components [--json]`: the receivers, processors, exporters and extensions this
 * build has, one line each (the OpenTelemetry Collector's `otelcol components`); `--json`
 * adds each one's default config, for scripts.
 */
export function componentsCommand(json: boolean, io: CliIo): number {
  const sections = listComponents();
  if (json) {
    io.out(JSON.stringify(sections, null, 2));
    return 0;
  }
  const width = Math.max(
    ...Object.values(sections).flatMap((list) => list.map((c) => c.type.length)),
  );
  const lines: string[] = [];
  for (const [section, list] of Object.entries(sections)) {
    lines.push(`${section}:`);
    if (list.length === 0) lines.push('  (none in this build)');
    for (const c of list) lines.push(`  ${c.type.padEnd(width)}  ${c.description}`);
  }
  lines.push('', 'A component with its default config: sluice components --json');
  io.out(lines.join('\n'));
  return 0;
}
