import { attributesConfig } from '../attributes/config.js';

/** The Collector's `resource` processor: the `attributes` processor's actions, on resources. */
export const resourceConfig = attributesConfig;
