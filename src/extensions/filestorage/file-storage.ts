import { access, constants, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StateJournal } from '../../delivery/persistent/state-journal.js';
import { StorageError } from '../../delivery/persistent/storage-error.js';
import type { ComponentSettings } from '../../model/consumer.js';
import type { StateStore, Storage, StorageSettings } from '../../model/storage.js';
import type { Extension } from '../extension.js';
import type { FileStorageConfig } from './config.js';

/**
 * The `file_storage` extension: one directory, in which each component that names it gets
 * a directory of its own (`exporter_otlphttp_backend`), with the policy set here. Starting
 * checks the directory can be written, so a wrong path fails at start with its reason.
 */
export class FileStorage implements Extension, Storage {
  readonly id: string;
  readonly #config: FileStorageConfig;

  constructor(settings: ComponentSettings, config: FileStorageConfig) {
    this.id = settings.id;
    this.#config = config;
  }

  get directory(): string {
    return this.#config.directory;
  }

  settingsFor(kind: 'exporter' | 'processor', componentId: string): StorageSettings {
    return {
      directory: join(this.#config.directory, componentDirectory(kind, componentId)),
      fsync: this.#config.fsync,
      fsyncIntervalMs: this.#config.fsync_interval,
      maxSizeBytes: this.#config.max_size_bytes,
      whenFull: this.#config.when_full,
    };
  }

  stateStore(kind: 'processor', componentId: string): StateStore {
    const settings = this.settingsFor(kind, componentId);
    return new StateJournal(settings.directory, settings.fsync, settings.fsyncIntervalMs);
  }

  async start(): Promise<void> {
    await checkDirectory(this.#config.directory, this.#config.create_directory);
  }

  async shutdown(): Promise<void> {}
}

/** `exporter` + `otlphttp/backend` → `exporter_otlphttp_backend`: one safe path segment. */
export function componentDirectory(kind: string, componentId: string): string {
  return `${kind}_${componentId.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

/** Throws `StorageError` saying why `directory` cannot hold a queue. */
export async function checkDirectory(directory: string, create: boolean): Promise<void> {
  let isDirectory: boolean;
  try {
    if (create) await mkdir(directory, { recursive: true });
    isDirectory = (await stat(directory)).isDirectory();
    if (isDirectory) await access(directory, constants.W_OK | constants.R_OK | constants.X_OK);
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'it does not exist (create_directory is false)'
        : (err as Error).message;
    throw new StorageError(`file_storage directory ${directory} cannot be used: ${reason}`, err);
  }
  if (!isDirectory) {
    throw new StorageError(`file_storage directory ${directory} cannot be used: not a directory`);
  }
}
