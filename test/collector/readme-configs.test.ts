import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { exporters, extensions, processors, receivers } from '../../src/collector/registry.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const configs = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

describe('the README', () => {
  it('shows collector configs', () => {
    expect(configs.length).toBeGreaterThanOrEqual(2);
  });

  it.each(configs.map((yaml, k) => [k, yaml]))('config %i is valid as written', (_k, yaml) => {
    // ${env:...} references need a value; any will do for validation.
    const config = parseConfig(yaml as string, 'README.md', { INFLUX_TOKEN: 'token' });
    expect(config.pipelines.length).toBeGreaterThan(0);
  });

  it('lists exactly the registered components, each with its description', () => {
    const rows = [
      ...readme.matchAll(
        /^\| (receiver|processor|exporter|extension) +\| `([^`]+)` +\| (.+?) +\|$/gm,
      ),
    ];
    const listed = rows.map(([, kind, type, description]) => `${kind} ${type}: ${description}`);
    const registered = Object.entries({
      receiver: receivers,
      processor: processors,
      exporter: exporters,
      extension: extensions,
    }).flatMap(([kind, registry]) =>
      Object.values(registry).map((f) => `${kind} ${f.type}: ${f.description}`),
    );
    expect(listed.sort()).toEqual(registered.sort());
  });
});
