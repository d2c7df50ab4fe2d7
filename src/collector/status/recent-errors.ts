import { redactSecrets } from '../../model/redact.js';

/** A warning or error the collector logged, as the dashboard lists it. */
export interface RecentError {
  time: number;
  level: 'warn' | 'error' | 'fatal';
  /** The component that logged it (`exporter/otlphttp`...), when the line names one. */
  component?: string;
  message: string;
  /** The line's other fields, as logged (secrets are never logged; redacted again here). */
  details: Record<string, unknown>;
}

/** The fields a log line names its component by (`component`, or the kind as the key). */
const COMPONENT_FIELDS = ['component', 'exporter', 'receiver', 'processor', 'extension'];

function componentOf(line: Record<string, unknown>): string | undefined {
  for (const field of COMPONENT_FIELDS) {
    const value = line[field];
    if (typeof value === 'string') return field === 'component' ? value : `${field} ${value}`;
  }
  return undefined;
}

const LEVELS: Record<number, RecentError['level']> = { 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields every pino line has, not worth repeating as details. */
const ENVELOPE = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component']);

/**
 * The last warnings and errors the logger wrote, for the dashboard: a pino destination
 * (`cliLogger`'s `tap`) that keeps the newest `size` lines at `warn` and above. The lines
 * are already rate-limited where they are logged (`RateLimitedLog`), so a storm of one error
 * shows as one line with its count.
 */
export class RecentErrors {
  readonly #size: number;
  readonly #lines: RecentError[] = [];

  constructor(size = 50) {
    this.#size = size;
  }

  /** A pino JSON line. */
  write(line: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    const level = LEVELS[Number(parsed.level)];
    if (!level) return;
    const details: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(parsed))
      if (!ENVELOPE.has(key)) details[key] = redactSecrets(value, [key]);
    this.#lines.push({
      time: typeof parsed.time === 'number' ? parsed.time : Date.now(),
      level,
      component: componentOf(parsed),
      message: String(redactSecrets(String(parsed.msg ?? ''))),
      details,
    });
    if (this.#lines.length > this.#size) this.#lines.shift();
  }

  /** Newest first. */
  list(): RecentError[] {
    return [...this.#lines].reverse();
  }
}
