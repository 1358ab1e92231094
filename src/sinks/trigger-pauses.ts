/** A paused trigger's gate: attempts that reach it wait until it opens. */
interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

/**
 * The triggers an operator paused, by name, so a pause outlives a reload that gives the trigger a new
 * line in the engine (and holds its retired line's events too). Attempts wait at the gate in the order
 * they reached it, and an open gate lets them go on in that order.
 */
export class TriggerPauses {
  readonly #gates = new Map<string, Gate>();

  /** True when it was running. */
  pause(trigger: string): boolean {
    if (this.#gates.has(trigger)) return false;
    let open: () => void = () => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.#gates.set(trigger, { opened, open });
    return true;
  }

  /** True when it was paused. */
  resume(trigger: string): boolean {
    const gate = this.#gates.get(trigger);
    if (gate === undefined) return false;
    this.#gates.delete(trigger);
    gate.open();
    return true;
  }

  isPaused(trigger: string): boolean {
    return this.#gates.has(trigger);
  }

  /** Resolves once the trigger is not paused; at once (undefined, no promise) when it is not. */
  until(trigger: string): Promise<void> | undefined {
    return this.#gates.get(trigger)?.opened;
  }

  /** Lets every waiting attempt go on: the engine is closing and they find it closed. */
  openAll(): void {
    for (const gate of this.#gates.values()) gate.open();
    this.#gates.clear();
  }
}
