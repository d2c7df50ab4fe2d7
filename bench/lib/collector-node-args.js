import { readFileSync } from 'node:fs';

/**
 * The Node.js flags the `sluice` bin runs with (from its `#!/usr/bin/env -S node ...` line), so
 * a benchmark that spawns `node dist/cli/main.js` measures the collector as users run it.
 */
export function collectorNodeArgs() {
  const bin = new URL('../../dist/cli/main.js', import.meta.url);
  const shebang = readFileSync(bin, 'utf8').split('\n', 1)[0];
  const flags = /^#!\/usr\/bin\/env -S node(.*)$/.exec(shebang)?.[1].trim();
  if (flags === undefined) throw new Error(`dist/cli/main.js: unexpected first line ${shebang}`);
  return flags ? flags.split(/\s+/) : [];
}
