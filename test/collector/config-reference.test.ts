import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { configReference } from '../../src/collector/config/reference.js';
import { exporters, extensions, processors, receivers } from '../../src/collector/registry.js';

const file = new URL('../../docs/configuration.md', import.meta.url);

describe('docs/configuration.md', () => {
  it('is what the config schemas say (run `npm run docs:config` after changing one)', () => {
    expect(readFileSync(file, 'utf8')).toBe(configReference());
  });

  it('has a section for every component, listing keys its schema takes, and valid examples', () => {
    const text = configReference();
    const registries = {
      receiver: receivers,
      processor: processors,
      exporter: exporters,
      extension: extensions,
    };
    for (const [kind, registry] of Object.entries(registries)) {
      for (const type of Object.keys(registry)) expect(text).toContain(`### \`${type}\` ${kind}`);
    }
    // Keys from several depths, with their defaults as the schemas give them.
    expect(text).toContain('| `sending_queue.num_consumers` | integer ≥ 1 | `4` |');
    expect(text).toContain('| `retry_on_failure.initial_interval` | duration | `5s` |');
    expect(text).toContain('| `protocols.http.endpoint` | string | `127.0.0.1:4318` |');
    expect(text).toContain(
      '| `partitions.count` | integer ≥ 1 ≤ 1024 | **required** with `partitions` |',
    );
    // Every example is YAML that parses.
    for (const [, example] of text.matchAll(/```yaml\n([\s\S]*?)```/g))
      expect(parseDocument(example).errors).toEqual([]);
  });
});
