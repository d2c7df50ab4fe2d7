// Servers for the benchmarks, from scripts/services (installed from Debian's packages when
// missing, on loopback), and the CPU time and peak memory of a process and its children.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const here = (file) => new URL(file, import.meta.url).pathname;
const script = (name) => here(`../../scripts/services/${name}.sh`);
const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * Starts `scripts/services/<name>.sh` (waits until it is ready): its address, URL, state
 * directory, pid and `stop`.
 */
export function startService(name, env = {}) {
  const out = execFileSync('bash', [script(name), 'start'], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [address, stateDir] = out.trim().split('\n').at(-1).split(' ');
  return {
    address,
    url: `http://${address}`,
    stateDir,
    pid: Number(readFileSync(join(stateDir, 'pid'), 'utf8')),
    stop: () => execFileSync('bash', [script(name), 'stop', stateDir], { stdio: 'inherit' }),
  };
}

/**
 * A process and its children and grandchildren (PostgreSQL's backends; the service script's
 * subshell may sit between a script and its server), with their `/proc/<pid>/stat` fields.
 */
function processTree(pid) {
  const tree = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const self = Number(entry);
    const grand = ppid !== pid && ppidOf(ppid) === pid;
    if (self === pid || ppid === pid || grand) tree.push({ pid: self, fields });
  }
  return tree;
}

/** CPU seconds of a process and its children (`processTree`). */
export function cpuSeconds(pid) {
  const ticks = processTree(pid).reduce(
    (sum, { fields }) => sum + Number(fields[11]) + Number(fields[12]),
    0,
  );
  return ticks / CLOCK_TICKS;
}

/** Peak resident memory (VmHWM) of a process and its children, summed, in MB. */
export function peakRssMb(pid) {
  let kb = 0;
  for (const process of processTree(pid)) {
    try {
      kb += Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${process.pid}/status`, 'utf8'))[1]);
    } catch {}
  }
  return Math.round(kb / 1024);
}

function ppidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}
