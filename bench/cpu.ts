import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Changes the CPU figures are given per. */
export const CPU_PER = 100_000;

let tick: number | undefined;

/** Clock ticks per second, the unit of /proc/PID/stat's times (`getconf CLK_TCK`, 100 on Linux). */
function clockTick(): number {
  tick ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return tick;
}

/**
 * CPU seconds (user + system) a process has used so far, from fields 14 and 15 (utime, stime) of
 * /proc/PID/stat: what the kernel charged it, whatever it runs. Counted after the command, whose
 * name in brackets may itself hold spaces.
 */
export function processCpuSec(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the whole line are the 12th and 13th after the command (field 2).
  return (Number(fields[11]) + Number(fields[12])) / clockTick();
}

/** CPU seconds (user + system) this process has used so far, from getrusage in microseconds. */
export function ownCpuSec(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU seconds per `CPU_PER` changes. */
export const cpuPerChanges = (cpuSec: number, changes: number): number => (cpuSec / changes) * CPU_PER;
