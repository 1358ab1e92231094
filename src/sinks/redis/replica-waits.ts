import type { ReplicaWait } from './target.js';

/** Sends `WAIT replicas timeout_ms` on the connection that took the entries, and answers its count. */
export type SendWait = (wait: ReplicaWait) => Promise<number>;

/** The WAIT out on the connection, and the one the entries answered since will share. */
interface Line {
  out: Promise<number> | null;
  next: Promise<number> | null;
}

/**
 * WAIT blocks the connection it is sent on until the replicas caught up with every write made on it
 * before; commands sent meanwhile queue behind it. One WAIT per entry would make entries go one at a
 * time, so the entries answered while a WAIT is out share the next one: a WAIT sent after an entry was
 * answered covers it, and the one already out may not. Per distinct `replicas` and `timeout_ms`.
 */
export class ReplicaWaits {
  readonly #send: SendWait;
  readonly #lines = new Map<string, Line>();

  constructor(send: SendWait) {
    this.#send = send;
  }

  /** The replicas that acknowledged a WAIT sent after this call; rejects as the WAIT did. */
  after(wait: ReplicaWait): Promise<number> {
    const key = `${wait.replicas} ${wait.timeoutMs}`;
    let state = this.#lines.get(key);
    if (state === undefined) {
      state = { out: null, next: null };
      this.#lines.set(key, state);
    }
    const line = state;
    if (line.out === null) {
      line.out = this.#start(wait, line);
      return line.out;
    }
    // Whatever the WAIT out now answers, the next one goes when it is done.
    line.next ??= line.out.then(
      () => this.#promote(wait, line),
      () => this.#promote(wait, line),
    );
    return line.next;
  }

  #promote(wait: ReplicaWait, state: Line): Promise<number> {
    state.next = null;
    state.out = this.#start(wait, state);
    return state.out;
  }

  #start(wait: ReplicaWait, state: Line): Promise<number> {
    const sent = this.#send(wait);
    const done = (): void => {
      if (state.out === sent) state.out = null;
    };
    sent.then(done, done);
    return sent;
  }
}
