/** The markdown table of report.ts: medians of the runs, every run's figure, targets with pass or miss. */

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

export const integer = (n: number) => Math.round(n).toLocaleString('en');
export const fixed = (digits: number) => (n: number) => n.toFixed(digits);
export const percent = (n: number) => `${n >= 0 ? '+' : '−'}${Math.abs(n * 100).toFixed(1)}%`;
export const seconds = (n: number) => `${n.toFixed(2)} s`;
export const ms = (n: number) => `${n.toFixed(1)} ms`;
/** A difference of two percentages, in percentage points. */
export const points = (n: number) => `${n >= 0 ? '+' : '−'}${Math.abs(n * 100).toFixed(1)} points`;
const verdict = (pass: boolean) => (pass ? 'pass' : '**miss**');

export interface Target {
  text: string;
  pass: (median: number) => boolean;
}

interface Row {
  measure: string;
  median: string;
  runs: string;
  target?: string;
  result?: string;
}

export class Table {
  readonly #rows: Row[] = [];

  /** A row of one figure per run: its median, each run's, and the target's verdict on the median. */
  add(measure: string, values: number[], format: (n: number) => string, target?: Target): void {
    const m = median(values);
    this.#rows.push({
      measure,
      median: format(m),
      runs: values.map(format).join(' · '),
      ...(target ? { target: target.text, result: verdict(target.pass(m)) } : {}),
    });
  }

  lines(): string[] {
    return [
      '| measure | median | runs | target | result |',
      '|---|--:|--:|---|---|',
      ...this.#rows.map(
        (r) => `| ${r.measure} | ${r.median} | ${r.runs} | ${r.target ?? ''} | ${r.result ?? ''} |`,
      ),
    ];
  }
}
