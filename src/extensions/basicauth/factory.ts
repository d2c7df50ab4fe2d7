import { defineExtension } from '../extension.js';
import { BasicAuth } from './basic-auth.js';
import { basicAuthConfig } from './config.js';

export const basicAuthExtensionFactory = defineExtension({
  type: 'basicauth',
  description:
    'HTTP basic auth: htpasswd users checked by receivers, client_auth sent by exporters',
  configSchema: basicAuthConfig,
  defaultConfig: { htpasswd: { file: './sluice.htpasswd' } },
  create: (settings, config) => new BasicAuth(settings, config),
});
