// `npm run bench [-- name ...] [-- --write-docs]`: runs the benchmarks under bench/ (all, or
// those named), each in its own process so one's garbage does not slow the next.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const wanted = args.filter((a) => !a.startsWith('--'));
const suites = readdirSync(new URL('.', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'lib' && d.name !== 'results')
  .map((d) => d.name)
  .filter((name) => wanted.length === 0 || wanted.includes(name));

let failed = false;
for (const suite of suites) {
  for (const file of readdirSync(new URL(`./${suite}/`, import.meta.url)).filter((f) =>
    f.endsWith('.bench.js'),
  )) {
    const path = new URL(`./${suite}/${file}`, import.meta.url).pathname;
    const result = spawnSync(process.execPath, ['--expose-gc', path, ...flags], {
      stdio: 'inherit',
    });
    if (result.status !== 0) failed = true;
  }
}
process.exit(failed ? 1 : 0);
