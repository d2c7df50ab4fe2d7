import { createHash, randomBytes } from 'node:crypto';
import type {
  AuthExtension,
  ClientAuthenticator,
  HeaderLookup,
  ServerAuthenticator,
} from '../../model/auth.js';
import type { ComponentSettings } from '../../model/consumer.js';
import { WatchedFile } from '../../net/watched-file.js';
import type { Extension } from '../extension.js';
import type { BasicAuthConfig } from './config.js';
import { Htpasswd } from './htpasswd.js';

const HTPASSWD_FILE_CHECK_MS = 1000;
/** Verified credentials remembered, so bcrypt runs once per client, not once per request. */
const VERIFIED_CACHE_SIZE = 1024;

/**
 * `basicauth`: receivers check `Authorization: Basic` against htpasswd entries; exporters
 * send `client_auth`. bcrypt costs tens of milliseconds by design, so credentials that
 * verified are remembered (as a keyed hash, never as text) until the htpasswd changes; a
 * wrong password pays the full cost every time.
 */
export class BasicAuth implements Extension, AuthExtension {
  readonly id: string;
  readonly serverAuthenticator: ServerAuthenticator | undefined;
  readonly clientAuthenticator: ClientAuthenticator | undefined;
  readonly #config: BasicAuthConfig;
  readonly #settings: ComponentSettings;
  readonly #inline: Htpasswd | undefined;
  readonly #cacheKey = randomBytes(32);
  #file: WatchedFile<Htpasswd> | undefined;
  #users: Htpasswd | undefined;
  #verified = new Set<string>();

  constructor(settings: ComponentSettings, config: BasicAuthConfig) {
    this.id = settings.id;
    this.#settings = settings;
    this.#config = config;
    if (config.htpasswd?.inline !== undefined) {
      this.#inline = Htpasswd.parse(
        config.htpasswd.inline,
        `extensions.${this.id}.htpasswd.inline`,
      );
      this.#users = this.#inline;
    }
    this.serverAuthenticator = config.htpasswd
      ? {
          challenge: 'Basic realm="sluice", charset="UTF-8"',
          authenticate: (lookup) => this.#authenticate(lookup),
        }
      : undefined;
    const client = config.client_auth;
    const header = client
      ? `Basic ${Buffer.from(`${client.username}:${client.password}`).toString('base64')}`
      : undefined;
    this.clientAuthenticator = header ? { headers: () => ({ authorization: header }) } : undefined;
  }

  async start(): Promise<void> {
    const path = this.#config.htpasswd?.file;
    if (path === undefined || this.#file) return;
    const logger = this.#settings.logger.child({ extension: this.id });
    this.#file = new WatchedFile(path, {
      parse: (bytes) => Htpasswd.parse(bytes.toString('utf8'), path),
      intervalMs: HTPASSWD_FILE_CHECK_MS,
      onChange: (users) => {
        this.#use(users);
        logger.info({ file: path, users: users.size }, 'read the changed htpasswd file');
      },
      onError: (error) =>
        logger.error(
          { error: error.message },
          'could not read the htpasswd file; keeping the last',
        ),
    });
    this.#use(this.#file.value);
  }

  async shutdown(): Promise<void> {
    this.#file?.close();
  }

  #use(fromFile: Htpasswd): void {
    this.#users = this.#inline ? Htpasswd.merge([fromFile, this.#inline]) : fromFile;
    this.#verified = new Set();
  }

  #authenticate(lookup: HeaderLookup): boolean | Promise<boolean> {
    const users = this.#users;
    const header = lookup('authorization');
    if (!users || !header || !/^basic /i.test(header)) return false;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const key = createHash('sha256').update(this.#cacheKey).update(decoded).digest('base64');
    if (this.#verified.has(key)) return true;
    return users.verify(decoded.slice(0, colon), decoded.slice(colon + 1)).then((ok) => {
      if (ok && users === this.#users) {
        if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.clear();
        this.#verified.add(key);
      }
      return ok;
    });
  }
}
