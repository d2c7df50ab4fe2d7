// Writes docs/configuration.md from the config schemas (`npm run docs:config`, after a build).
// test/collector/config-reference.test.ts fails when the file and the schemas disagree.
import { writeFileSync } from 'node:fs';
import { configReference } from '../dist/collector/config/reference.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configReference());
