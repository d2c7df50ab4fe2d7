import type { ClientAuthenticator, ServerAuthenticator } from '../model/auth.js';
import type { ComponentSettings } from '../model/consumer.js';
import { InvalidArgumentError } from '../model/errors.js';
import type { AuthReference } from './tls-config.js';

/**
 * The server side of the auth extension a listener's `auth` names (undefined without
 * `auth`). The config loader has checked the reference; this throws only when a component
 * is built outside a collector without the extension.
 */
export function serverAuthenticator(
  settings: ComponentSettings,
  reference: AuthReference | undefined,
  key: string,
): ServerAuthenticator | undefined {
  if (!reference) return undefined;
  const authenticator = settings.auth?.(reference.authenticator).serverAuthenticator;
  if (!authenticator) {
    throw new InvalidArgumentError(
      key,
      reference.authenticator,
      'an auth extension enabled in service.extensions that checks clients (bearertokenauth, basicauth with htpasswd)',
    );
  }
  return authenticator;
}

/** The client side of the auth extension an exporter's `auth` names (undefined without). */
export function clientAuthenticator(
  settings: ComponentSettings,
  reference: AuthReference | undefined,
  key: string,
): ClientAuthenticator | undefined {
  if (!reference) return undefined;
  const authenticator = settings.auth?.(reference.authenticator).clientAuthenticator;
  if (!authenticator) {
    throw new InvalidArgumentError(
      key,
      reference.authenticator,
      'an auth extension enabled in service.extensions that sends credentials (bearertokenauth, basicauth with client_auth)',
    );
  }
  return authenticator;
}
