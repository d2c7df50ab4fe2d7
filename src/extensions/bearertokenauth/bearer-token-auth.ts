import type {
  AuthExtension,
  ClientAuthenticator,
  HeaderLookup,
  ServerAuthenticator,
} from '../../model/auth.js';
import type { ComponentSettings } from '../../model/consumer.js';
import { UnusableFileError } from '../../model/errors.js';
import { secretsEqual } from '../../net/secrets-equal.js';
import { WatchedFile } from '../../net/watched-file.js';
import type { Extension } from '../extension.js';
import type { BearerTokenAuthConfig } from './config.js';

/** How often a token file is checked for a new token. */
const TOKEN_FILE_CHECK_MS = 1000;

/**
 * `bearertokenauth`: receivers accept a request whose header carries the token (compared in
 * constant time); exporters send it. A token file is read at start and again when it
 * changes, so a rotated token is taken without a restart.
 */
export class BearerTokenAuth implements Extension, AuthExtension {
  readonly id: string;
  readonly serverAuthenticator: ServerAuthenticator;
  readonly clientAuthenticator: ClientAuthenticator;
  readonly #config: BearerTokenAuthConfig;
  readonly #settings: ComponentSettings;
  #file: WatchedFile<string> | undefined;

  constructor(settings: ComponentSettings, config: BearerTokenAuthConfig) {
    this.id = settings.id;
    this.#settings = settings;
    this.#config = config;
    const header = config.header;
    this.serverAuthenticator = {
      challenge: config.scheme || undefined,
      authenticate: (lookup: HeaderLookup) => {
        const expected = this.#credentials();
        return expected !== undefined && secretsEqual(lookup(header) ?? '', expected);
      },
    };
    this.clientAuthenticator = {
      headers: () => {
        const credentials = this.#credentials();
        return credentials === undefined ? {} : { [header]: credentials };
      },
    };
  }

  async start(): Promise<void> {
    const { filename } = this.#config;
    if (filename === undefined || this.#file) return;
    const logger = this.#settings.logger.child({ extension: this.id });
    this.#file = new WatchedFile(filename, {
      parse: parseToken,
      intervalMs: TOKEN_FILE_CHECK_MS,
      onChange: () => logger.info({ filename }, 'read the changed token file'),
      onError: (error) =>
        logger.error({ error: error.message }, 'could not read the token file; keeping the last'),
    });
  }

  async shutdown(): Promise<void> {
    this.#file?.close();
  }

  /** The header's expected value; undefined before a token file was read. */
  #credentials(): string | undefined {
    const token = this.#config.token ?? this.#file?.value;
    if (token === undefined) return undefined;
    return this.#config.scheme ? `${this.#config.scheme} ${token}` : token;
  }
}

function parseToken(bytes: Buffer): string {
  const token = bytes.toString('utf8').trim();
  if (token === '') throw new UnusableFileError('the token file is empty');
  if (/[\r\n]/.test(token)) throw new UnusableFileError('the token file holds more than one line');
  return token;
}
