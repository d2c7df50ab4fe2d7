import { mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateJournal } from '../../src/delivery/persistent/state-journal.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function journalIn(): Promise<{ dir: string; journal: StateJournal }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-journal-'));
  dirs.push(dir);
  return { dir, journal: new StateJournal(dir, 'never', 200) };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe('StateJournal', () => {
  it('loads the last snapshot and the entries after it, not those it holds', async () => {
    const { dir, journal } = await journalIn();
    await journal.load();
    await journal.append(Buffer.from('a'));
    const through = await journal.append(Buffer.from('b'));
    const later = journal.append(Buffer.from('c')); // appended while the snapshot is taken
    await journal.snapshot(Buffer.from('state after b'), through);
    await later;
    await journal.close();
    const again = new StateJournal(dir, 'never', 200);
    const stored = await again.load();
    expect(text(stored.snapshot!)).toBe('state after b');
    expect(stored.entries.map(text)).toEqual(['c']);
    expect(stored.corrupt).toBe(0);
    expect(await again.append(Buffer.from('d'))).toBe(4);
    await again.close();
  });

  it('cuts a torn entry off the journal, counts it, and appends after the rest', async () => {
    const { dir, journal } = await journalIn();
    await journal.load();
    await journal.append(Buffer.from('kept'));
    await journal.append(Buffer.from('torn by the crash'));
    await journal.close();
    const path = join(dir, 'journal');
    await truncate(path, (await stat(path)).size - 5);
    const again = new StateJournal(dir, 'never', 200);
    const stored = await again.load();
    expect(stored.entries.map(text)).toEqual(['kept']);
    expect(stored.corrupt).toBe(1);
    await again.append(Buffer.from('next'));
    await again.close();
    const third = new StateJournal(dir, 'never', 200);
    expect((await third.load()).entries.map(text)).toEqual(['kept', 'next']);
    await third.close();
  });

  it('ignores a snapshot that fails its checksum, counting it', async () => {
    const { dir, journal } = await journalIn();
    await journal.load();
    await journal.snapshot(Buffer.from('state'), 0);
    await journal.close();
    await writeFile(join(dir, 'snapshot'), Buffer.from('garbage that is long enough to read'));
    const again = new StateJournal(dir, 'never', 200);
    const stored = await again.load();
    expect(stored.snapshot).toBeUndefined();
    expect(stored.corrupt).toBe(1);
    await again.close();
  });
});
