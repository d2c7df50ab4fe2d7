import type { AuthExtension, ClientAuthenticator, ServerAuthenticator } from '../model/auth.js';
import type { ComponentSettings } from '../model/consumer.js';
import { InvalidArgumentError } from '../model/errors.js';
import type { AuthReference } from './tls-config.js';

const SIDES = {
  serverAuthenticator: 'checks clients (bearertokenauth, basicauth with htpasswd)',
  clientAuthenticator: 'sends credentials (bearertokenauth, basicauth with client_auth)',
} as const;

/**
 * One side of the auth extension an `auth` block names (undefined without `auth`). The
 * config loader has checked the reference; this throws only when a component is built
 * outside a collector without the extension.
 */
function sideOf<Side extends keyof typeof SIDES>(
  side: Side,
  settings: ComponentSettings,
  reference: AuthReference | undefined,
  key: string,
): NonNullable<AuthExtension[Side]> | undefined {
  if (!reference) return undefined;
  const authenticator = settings.auth?.(reference.authenticator)[side];
  if (!authenticator) {
    throw new InvalidArgumentError(
      key,
      reference.authenticator,
      `an auth extension enabled in service.extensions that ${SIDES[side]}`,
    );
  }
  return authenticator;
}

/** What a listener's `auth` checks requests with. */
export function serverAuthenticator(
  settings: ComponentSettings,
  reference: AuthReference | undefined,
  key: string,
): ServerAuthenticator | undefined {
  return sideOf('serverAuthenticator', settings, reference, key);
}

/** What an exporter's `auth` adds to its requests. */
export function clientAuthenticator(
  settings: ComponentSettings,
  reference: AuthReference | undefined,
  key: string,
): ClientAuthenticator | undefined {
  return sideOf('clientAuthenticator', settings, reference, key);
}
