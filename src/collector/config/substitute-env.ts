import { parse as parseYaml } from 'yaml';

const REFERENCE = /\$\$|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE = /^\$\{env:[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

import { SluiceError } from '../../model/errors.js';

/** A `${env:NAME}` reference to a variable that is not set and has no default. */
export class MissingEnvironmentError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_MISSING_ENV', message);
  }
}

/**
 * Expands `${env:NAME}` and `${env:NAME:-default}` in every string of a parsed config, as the
 * OpenTelemetry Collector does (`$$` is a literal `$`). A value that is a reference and
 * nothing else takes the type its text has in YAML, so `port: ${env:PORT}` is a number.
 */
export function substituteEnvironment(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    const expanded = value.replace(
      REFERENCE,
      (match, name: string | undefined, fallback: string | undefined) => {
        if (match === '$$') return '$';
        const found = env[name!];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        throw new MissingEnvironmentError(
          `${path || '(root)'}: environment variable ${name} is not set (write \${env:${name}:-default} for a default)`,
        );
      },
    );
    if (WHOLE.test(value.trim())) {
      try {
        const typed = parseYaml(expanded);
        if (typeof typed === 'number' || typeof typed === 'boolean') return typed;
      } catch {
        // Not a YAML scalar: keep the string.
      }
    }
    return expanded;
  }
  if (Array.isArray(value))
    return value.map((item, k) => substituteEnvironment(item, env, `${path}[${k}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = substituteEnvironment(item, env, path ? `${path}.${key}` : key);
    return out;
  }
  return value;
}
