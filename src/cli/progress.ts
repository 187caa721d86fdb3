export interface ProgressBarOptions {
  /** How much work there is, known before the bar is first drawn. */
  total: number;
  /** What is counted, after "done/total": "deliveries landed", "failed jobs replayed". */
  label: string;
  /** @defaultValue process.stderr */
  stream?: NodeJS.WriteStream;
  /** Characters of the bar itself. @defaultValue 30 */
  width?: number;
}

/**
 * A one-line progress bar, redrawn in place with `\r` on a terminal. Its total is given up
 * front, so the first frame already reads 0/TOTAL instead of a count that grows while the
 * work is still being found. Elsewhere (a pipe, CI, a test) only the final state is printed,
 * once, by `finish`.
 */
export class ProgressBar {
  /** Lowered when work counted in the total will not happen after all (an order refused). */
  total: number;
  private last = '';
  private readonly startedAt = Date.now();
  private readonly stream: NodeJS.WriteStream;
  private readonly width: number;
  private readonly label: string;

  constructor(options: ProgressBarOptions) {
    this.total = options.total;
    this.label = options.label;
    this.stream = options.stream ?? process.stderr;
    this.width = options.width ?? 30;
  }

  /** True when the bar is drawn as the work goes (a terminal), not only at the end. */
  get live(): boolean {
    return this.stream.isTTY === true;
  }

  private render(done: number, note: string): string {
    const shown = Math.min(done, this.total);
    const filled = this.total <= 0 ? this.width : Math.round((shown / this.total) * this.width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(this.width - filled)}`;
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    return `[${bar}] ${done}/${this.total} ${this.label}${note ? `, ${note}` : ''} (${seconds} s)`;
  }

  /** Draws the first frame, 0/TOTAL (on a terminal only). */
  start(note = ''): void {
    this.update(0, note);
  }

  /** Redraws the line (on a terminal only). */
  update(done: number, note = ''): void {
    if (!this.live) return;
    const line = this.render(done, note);
    if (line === this.last) return;
    this.stream.write(`\r${line}\x1b[K`);
    this.last = line;
  }

  /** Prints the final state and ends the line. */
  finish(done: number, note = ''): void {
    this.stream.write(`${this.live ? '\r' : ''}${this.render(done, note)}${this.live ? '\x1b[K' : ''}\n`);
    this.last = '';
  }

  /** Clears a half-drawn line (before other output, or on Ctrl-C); `update` draws it again. */
  clear(): void {
    if (this.live && this.last !== '') this.stream.write('\r\x1b[K');
    this.last = '';
  }
}
