import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { parseLsn } from '../core/lsn.js';
import {
  compareLetters,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterStore,
  letterToJson,
  matchesFilter,
} from './store.js';

export interface FileStoreOptions {
  logger?: Logger | undefined;
  /** How long to wait for another process's lock before failing. */
  lockTimeoutMs?: number;
  /** A lock whose holder stopped refreshing it this long ago is stale; holders refresh it 4 times as often. */
  staleMs?: number;
}

const isoDate = z.iso.datetime().transform((text) => new Date(text));
const lineSchema = z.object({
  id: z.string().min(1),
  trigger: z.string(),
  table: z.string(),
  op: z.string(),
  lsn: z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/),
  body: z.string(),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  responseSnippet: z.string().nullable(),
  firstAttemptAt: isoDate,
  lastAttemptAt: isoDate,
  deadLetteredAt: isoDate,
});

/** A line of the file; `letter` is null for a line that is not a record (torn by a crash, edited by hand). */
interface Entry {
  line: string;
  letter: DeadLetter | null;
}

/**
 * Dead letters as JSON lines, for sources walhook may not write to. Every append and rewrite holds
 * `PATH.lock`, so a rewrite by the CLI never drops a letter the service appended meanwhile; readers
 * need no lock because a rewrite replaces the file by rename.
 */
export class FileDeadLetterStore implements DeadLetterStore {
  readonly #path: string;
  readonly #logger: Logger | undefined;
  readonly #lockOptions: Required<Omit<FileStoreOptions, 'logger'>> & { logger: Logger | undefined };
  /** Serialises this instance's own writers, which would otherwise poll the lock against each other. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, options: FileStoreOptions = {}) {
    this.#path = path;
    this.#logger = options.logger?.child({ component: 'dead-letters', file: path });
    this.#lockOptions = {
      lockTimeoutMs: options.lockTimeoutMs ?? 10_000,
      staleMs: options.staleMs ?? 10_000,
      logger: this.#logger,
    };
  }

  async init(): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true });
    // Creating the file now reports a read-only path at startup rather than at the first dead letter.
    await (await open(this.#path, 'a', 0o600)).close();
  }

  async add(letter: DeadLetter): Promise<void> {
    parseLsn(letter.lsn);
    const line = `${JSON.stringify(letterToJson(letter))}\n`;
    await this.#exclusive(async () => {
      const handle = await open(this.#path, 'a+', 0o600);
      let created = false;
      try {
        const { size } = await handle.stat();
        created = size === 0;
        // A crash mid-append leaves a line without its end; start a new line so this record stays whole.
        const torn = size > 0 && (await handle.read(Buffer.alloc(1), 0, 1, size - 1)).buffer[0] !== 0x0a;
        await handle.write(torn ? `\n${line}` : line);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      if (created) await syncDirectory(this.#path);
    });
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return [...latest(await this.#entries(false)).values()]
      .filter((letter) => matchesFilter(letter, filter))
      .sort(compareLetters);
  }

  async remove(ids: readonly string[]): Promise<number> {
    const wanted = new Set(ids);
    return this.#rewrite((letter) => wanted.has(letter.id));
  }

  purge(filter: DeadLetterFilter): Promise<number> {
    return this.#rewrite((letter) => matchesFilter(letter, filter));
  }

  async count(): Promise<number> {
    return latest(await this.#entries(false)).size;
  }

  async close(): Promise<void> {
    await this.#queue;
  }

  /** Drops every line of the letters `drop` selects (judged by each id's last record), atomically. */
  #rewrite(drop: (letter: DeadLetter) => boolean): Promise<number> {
    return this.#exclusive(async () => {
      const entries = await this.#entries(true);
      const dropped = new Set([...latest(entries).values()].filter(drop).map((letter) => letter.id));
      if (dropped.size === 0) return 0;
      const kept = entries.filter((entry) => !(entry.letter && dropped.has(entry.letter.id)));
      const mode = (await stat(this.#path)).mode & 0o777;
      const temp = `${this.#path}.tmp`;
      const handle = await open(temp, 'w', mode);
      try {
        await handle.writeFile(kept.map((entry) => `${entry.line}\n`).join(''));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.#path);
      await syncDirectory(this.#path);
      return dropped.size;
    });
  }

  /**
   * The file's lines in order. A last line without its newline is an append in progress, unless the
   * caller holds the lock (`locked`): then it was torn by a crash and is kept like any unreadable line.
   */
  async #entries(locked: boolean): Promise<Entry[]> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const lines = text.split('\n');
    const tail = lines.pop() ?? '';
    if (locked && tail !== '') lines.push(tail);
    return lines
      .filter((line) => line.trim() !== '')
      .map((line, index) => {
        const letter = parseLine(line);
        if (!letter)
          this.#logger?.warn({ line: index + 1 }, 'skipping a dead-letter line that is not a record');
        return { line, letter };
      });
  }

  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      const lock = await acquireLock(`${this.#path}.lock`, this.#lockOptions);
      try {
        return await work();
      } finally {
        await lock.release();
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}

function parseLine(line: string): DeadLetter | null {
  try {
    const parsed = lineSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The last record of each id: a replayed change dead-lettered again supersedes the earlier line. */
function latest(entries: readonly Entry[]): Map<string, DeadLetter> {
  const byId = new Map<string, DeadLetter>();
  for (const { letter } of entries) if (letter) byId.set(letter.id, letter);
  return byId;
}

/** A rename or a new file survives a crash only once its directory is synced too. */
async function syncDirectory(file: string): Promise<void> {
  const handle = await open(dirname(file), 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

interface LockOptions {
  lockTimeoutMs: number;
  staleMs: number;
  logger: Logger | undefined;
}

interface HeldLock {
  release(): Promise<void>;
}

async function acquireLock(path: string, options: LockOptions): Promise<HeldLock> {
  const owner = JSON.stringify({ pid: process.pid, host: hostname(), token: randomUUID() });
  const deadline = Date.now() + options.lockTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await createLock(path, owner, options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await breakIfStale(path, options)) continue;
    if (Date.now() > deadline) {
      throw new Error(`${path}: still locked by another process after ${options.lockTimeoutMs} ms`);
    }
    await sleep(Math.min(5 * 2 ** attempt, 100) * (0.5 + Math.random()));
  }
}

async function createLock(path: string, owner: string, options: LockOptions): Promise<HeldLock> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(owner);
  } catch (err) {
    await handle.close();
    await unlink(path);
    throw err;
  }
  // Refreshing through the descriptor touches our own file only, even after a takeover.
  const refresh = setInterval(() => {
    const now = new Date();
    handle.utimes(now, now).catch(() => {});
  }, options.staleMs / 4);
  refresh.unref();
  return {
    async release() {
      clearInterval(refresh);
      await handle.close();
      // After a takeover the name belongs to someone else, whose lock must stay.
      if ((await readFile(path, 'utf8').catch(() => null)) !== owner) {
        options.logger?.warn({ lock: path }, 'dead-letter lock was taken over while held');
        return;
      }
      await unlink(path).catch(ignoreMissing);
    },
  };
}

/**
 * Removes the lock if its holder died (its pid is gone on this host) or stopped refreshing it. Of
 * several waiters judging it stale, the one whose rename wins removes it; a waiter that moved a newer
 * lock by mistake (taken between its check and its rename) puts it back.
 */
async function breakIfStale(path: string, options: LockOptions): Promise<boolean> {
  let before: Awaited<ReturnType<typeof stat>>;
  let content: string;
  try {
    before = await stat(path);
    content = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const ageMs = Date.now() - before.mtimeMs;
  if (!holderDied(content) && ageMs < options.staleMs) return false;
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const moved = await stat(aside);
  const same =
    moved.ino === before.ino &&
    moved.mtimeMs === before.mtimeMs &&
    (await readFile(aside, 'utf8')) === content;
  if (!same) {
    await link(aside, path).catch((err: NodeJS.ErrnoException) => {
      // A third process locked in the instant the name was free: two holders now, say so loudly.
      options.logger?.error({ lock: path, err }, 'could not restore a dead-letter lock moved by mistake');
    });
  }
  await unlink(aside);
  if (same) {
    const holder = { lock: path, holder: content, age_ms: Math.round(ageMs) };
    options.logger?.warn(holder, 'took over a stale dead-letter lock');
  }
  return same;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

function holderDied(content: string): boolean {
  let holder: { pid?: unknown; host?: unknown };
  try {
    holder = JSON.parse(content);
  } catch {
    return false;
  }
  if (holder.host !== hostname() || typeof holder.pid !== 'number') return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
