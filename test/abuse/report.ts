import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The corpus report: every input tried, by entry point, with the class of answer expected
 * and the answer actually given. Written to `.ci/out/abuse-report.json` and summarised on
 * the console when the suite ends.
 */

export type EntryPoint =
  | 'POST /orders'
  | 'POST /orders/{id}/cancel'
  | 'POST /webhooks/shopify'
  | 'POST /webhooks/woocommerce'
  | 'dropship preview'
  | 'dropship enqueue'
  | 'loadConfig';

/**
 * - `rejected`: a clear client error (HTTP 4xx, CLI exit 2, a DropshipError at config load)
 *   with no stack trace, internal path or card data in it;
 * - `held`: accepted, and the plan holds the order with its reasons;
 * - `accepted`: accepted, and every payload it renders is safe (CSV cells neutralised, XML
 *   valid and escaped, X12 values free of delimiters, file names inside their folder, no
 *   card data);
 * - `ignored`: answered 200 without taking an order (other webhook topics, pings).
 */
export type AnswerClass = 'rejected' | 'held' | 'accepted' | 'ignored';

export interface CaseOutcome {
  entry: EntryPoint;
  name: string;
  expected: AnswerClass;
  /** What was answered, e.g. `400 EINVALID_JSON`, `202 held NO_SHIP_TO`, `exit 2`. */
  answer: string;
  /**
   * The class the answer falls in when everything about it is as expected; `unexpected` for
   * anything else: another class, another status or message, a crash, a 5xx, a hang, an
   * unsafe payload.
   */
  answered: AnswerClass | 'unexpected';
  problems: string[];
  ms: number;
}

export const REPORT_FILE = path.join(__dirname, '..', '..', '.ci', 'out', 'abuse-report.json');

export class AbuseReport {
  readonly outcomes: CaseOutcome[] = [];

  record(outcome: CaseOutcome): void {
    this.outcomes.push(outcome);
  }

  summary() {
    const byEntry: Record<string, { tried: number; expected: Record<string, number>; answered: Record<string, number>; answers: Record<string, number>; mismatches: number }> = {};
    for (const o of this.outcomes) {
      const e = (byEntry[o.entry] ??= { tried: 0, expected: {}, answered: {}, answers: {}, mismatches: 0 });
      e.tried += 1;
      e.expected[o.expected] = (e.expected[o.expected] ?? 0) + 1;
      e.answered[o.answered] = (e.answered[o.answered] ?? 0) + 1;
      e.answers[o.answer] = (e.answers[o.answer] ?? 0) + 1;
      if (o.answered !== o.expected || o.problems.length > 0) e.mismatches += 1;
    }
    return { total: this.outcomes.length, failing: this.outcomes.filter((o) => o.answered !== o.expected || o.problems.length > 0).length, byEntry };
  }

  /** Writes the JSON report and returns a short text summary for the console. */
  write(): string {
    const summary = this.summary();
    mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
    writeFileSync(REPORT_FILE, JSON.stringify({ ...summary, cases: this.outcomes }, null, 2) + '\n');
    const lines = [`abuse corpus: ${summary.total} inputs tried, ${summary.failing} not answered as expected (report: ${path.relative(process.cwd(), REPORT_FILE)})`];
    for (const [entry, e] of Object.entries(summary.byEntry)) {
      const classes = Object.entries(e.answered)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const expected = Object.entries(e.expected)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      lines.push(`  ${entry}: ${e.tried} tried; expected ${expected}; answered ${classes}${e.mismatches > 0 ? `; ${e.mismatches} NOT AS EXPECTED` : ''}`);
      lines.push(`    ${Object.entries(e.answers)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ')}`);
    }
    for (const o of this.outcomes.filter((x) => x.answered !== x.expected || x.problems.length > 0)) {
      lines.push(`  ✗ ${o.entry} "${o.name}": expected ${o.expected}, answered ${o.answer}${o.problems.length > 0 ? ` — ${o.problems[0]!.split('\n')[0]!.slice(0, 200)}` : ''}`);
    }
    return lines.join('\n');
  }
}
