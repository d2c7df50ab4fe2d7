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

/**
 * A storage extension (`file_storage`) as components see it: it hands each component its
 * own directory and the shared policy.
 */
export interface Storage {
  readonly id: string;
  settingsFor(kind: 'exporter' | 'processor', componentId: string): StorageSettings;
}
