import type { Registry } from 'prom-client';

/** One series of a `HistogramFamily`: counts per bucket, so observing costs a short scan and an addition. */
export class HistogramChild {
  /** Observations per bucket, not cumulative; the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A histogram for the per-event and per-attempt paths, in prom-client's registry and exposition format.
 * prom-client's own histogram hashes and validates the labels on every observation; here each series is
 * held by its caller (`labels(...)` once, then `observe()`), and the exposition is built when scraped.
 */
export class HistogramFamily {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: { labels: Record<string, string>; child: HistogramChild }[] = [];

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    // prom-client's registry takes any object with this shape; its metric types are classes only.
    registry.registerMetric(this as never);
  }

  /** A new series for these label values, in the family's label order; call once per series. */
  labels(...values: string[]): HistogramChild {
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, i) => {
      labels[name] = values[i] ?? '';
    });
    const child = new HistogramChild(this.bounds);
    this.series.push({ labels, child });
    return child;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: HistogramValue[] } {
    const values: HistogramValue[] = [];
    for (const { labels, child } of this.series) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += child.counts[i] as number;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({
        labels: { le: '+Inf', ...labels },
        value: child.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Part of prom-client's metric interface; walhook never resets its metrics. */
  reset(): void {}
}
