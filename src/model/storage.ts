import type { Logger } from 'pino';
import type { ComponentSettings } from './consumer.js';
import { InvalidArgumentError } from './errors.js';

/**
 * When a write is on the disk rather than in the kernel's page cache: `always` before the
 * write is acknowledged (survives a power loss), `interval` within the sync interval
 * (survives a process crash at once; a power loss loses at most the last interval),
 * `never` when the kernel writes it back (survives a process crash, not a power loss).
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

/**
 * What a full persistent queue does with new data: `block` refuses it, so the sender keeps
 * it and retries (receivers answer 429 / RESOURCE_EXHAUSTED with Retry-After);
 * `drop_oldest` drops the oldest undelivered requests to make room; `drop_newest` drops the
 * new data. Both drops are counted by reason.
 */
export type StorageWhenFull = 'block' | 'drop_oldest' | 'drop_newest';

/** Where and how one component stores what must outlive the process. */
export interface StorageSettings {
  /** The component's own directory. */
  directory: string;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  maxSizeBytes: number;
  whenFull: StorageWhenFull;
}

/** What a state store held at load: its last snapshot, then the entries appended after it. */
export interface StoredState {
  snapshot: Uint8Array | undefined;
  entries: Uint8Array[];
  /** A snapshot or journal tail that failed its checksum (skipped). */
  corrupt: number;
  /** What was wrong with what was skipped, where the store can say. */
  problem?: string;
}

/**
 * Where a stateful processor keeps its state: snapshots, and a journal of entries appended
 * between them (each durable to the fsync policy once `append` resolves).
 */
export interface StateStore {
  /** Locks the directory and reads what is there; call once, first. */
  load(): Promise<StoredState>;
  /** Appends an entry; resolves with its number once stored. */
  append(entry: Uint8Array): Promise<number>;
  /** The number of the last entry appended. */
  readonly lastSeq: number;
  /** Bytes of entries since the last snapshot (when to write the next one). */
  readonly journalBytes: number;
  /**
   * Replaces the state with `state` (bytes, or parts written one after the other), which
   * holds every entry up to `through`.
   */
  snapshot(state: Uint8Array | readonly Uint8Array[], through: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A storage extension (`file_storage`) as components see it: it hands each component its
 * own directory and the shared policy, or a state store there.
 */
export interface Storage {
  readonly id: string;
  settingsFor(kind: 'exporter' | 'processor', componentId: string): StorageSettings;
  stateStore(kind: 'processor', componentId: string): StateStore;
}

/**
 * Warns when part of a component's stored state could not be read (`StoredState.corrupt`,
 * and `problem` where the store can say what): it goes on without that part, and what only
 * that part held is lost. Returns how many parts, for the component to count
 * (`Processor.unreadableState`): the warning and the count always go together.
 */
export function noteUnreadable(logger: Logger, componentId: string, stored: StoredState): number {
  if (stored.problem) {
    logger.warn(
      { component: componentId, error: stored.problem },
      'stored state cannot be read; starting without it, so its outputs start over',
    );
  } else if (stored.corrupt > 0) {
    logger.warn(
      { component: componentId, parts: stored.corrupt },
      'stored state: skipped what fails its checksum (a damaged snapshot, or a journal entry cut off by a crash); what only it held is lost',
    );
  }
  return stored.corrupt;
}

/** The storage extension `id` from a component's settings, or an error naming what is missing. */
export function storageOf(settings: ComponentSettings, id: string): Storage {
  if (!settings.storage) {
    throw new InvalidArgumentError(
      `${settings.id} storage`,
      id,
      'a storage extension enabled in service.extensions',
    );
  }
  return settings.storage(id);
}
