import { defineExtension } from '../extension.js';
import { BearerTokenAuth } from './bearer-token-auth.js';
import { bearerTokenAuthConfig } from './config.js';

export const bearerTokenAuthExtensionFactory = defineExtension({
  type: 'bearertokenauth',
  description:
    'A bearer token: required of clients by receivers (auth.authenticator), sent by exporters',
  configSchema: bearerTokenAuthConfig,
  defaultConfig: { filename: './sluice-token' },
  create: (settings, config) => new BearerTokenAuth(settings, config),
});
