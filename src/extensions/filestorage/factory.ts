import { defineExtension } from '../extension.js';
import { fileStorageConfig } from './config.js';
import { FileStorage } from './file-storage.js';

export const fileStorageExtensionFactory = defineExtension({
  type: 'file_storage',
  description:
    'A directory on disk for persistent queues (sending_queue.storage) and processor state',
  configSchema: fileStorageConfig,
  defaultConfig: { directory: './sluice-data' },
  create: (settings, config) => new FileStorage(settings, config),
});
