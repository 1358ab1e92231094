import { Counter, type Registry } from 'prom-client';

/** One series of a `CounterFamily`: a plain number, so counting costs an addition. */
export class CounterChild {
  value = 0;

  inc(by = 1): void {
    this.value += by;
  }
}

interface Series<L extends string> {
  labels: Readonly<Record<L, string>>;
  child: CounterChild;
  /** What prom-client has been told so far. */
  published: number;
}

/**
 * A labelled counter for the per-change and per-event paths. prom-client hashes the label object and
 * validates it on every `inc`; here a series is found through one map per label, or held by the caller
 * (`labels(...)` once, then `inc()`), and prom-client only learns the totals when scraped.
 */
export class CounterFamily<L extends string> {
  private readonly root = new Map<string, unknown>();
  private readonly series: Series<L>[] = [];

  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly labelNames: readonly L[],
  ) {
    const series = this.series;
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        for (const s of series) {
          // An increment of 0 still creates the series, so a count that never moved shows as 0.
          this.inc(s.labels, s.child.value - s.published);
          s.published = s.child.value;
        }
      },
    });
  }

  /** The series for these label values, in the family's label order; created at 0. */
  labels(...values: string[]): CounterChild {
    const labels = {} as Record<L, string>;
    this.labelNames.forEach((name, i) => {
      labels[name] = values[i] ?? '';
    });
    return this.child(labels);
  }

  inc(labels: Readonly<Record<L, string>>, by = 1): void {
    this.child(labels).inc(by);
  }

  private child(labels: Readonly<Record<L, string>>): CounterChild {
    const { labelNames } = this;
    const last = labelNames.length - 1;
    let node = this.root;
    for (let i = 0; i < last; i++) {
      const value = labels[labelNames[i] as L];
      let next = node.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(value, next);
      }
      node = next;
    }
    const value = labels[labelNames[last] as L];
    let child = node.get(value) as CounterChild | undefined;
    if (child === undefined) {
      child = new CounterChild();
      node.set(value, child);
      this.series.push({ labels: { ...labels }, child, published: 0 });
    }
    return child;
  }
}
