/**
 * A one-line progress bar on stderr, redrawn in place with `\r` on a terminal. Elsewhere
 * (a pipe, CI, a test) only the final state is printed, once.
 */
export class ProgressLine {
  private last = '';
  private readonly startedAt = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {
    this.tty = stream.isTTY === true;
  }

  private render(done: number, total: number, note: string): string {
    const filled = total === 0 ? this.width : Math.round((done / total) * this.width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(this.width - filled)}`;
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    return `[${bar}] ${done}/${total} deliveries landed${note ? `, ${note}` : ''} (${seconds} s)`;
  }

  /** Redraws the line (on a terminal only). */
  update(done: number, total: number, note = ''): void {
    if (!this.tty) return;
    const line = this.render(done, total, note);
    if (line === this.last) return;
    this.stream.write(`\r${line}\x1b[K`);
    this.last = line;
  }

  /** Prints the final state and ends the line. */
  finish(done: number, total: number, note = ''): void {
    this.stream.write(`${this.tty ? '\r' : ''}${this.render(done, total, note)}${this.tty ? '\x1b[K' : ''}\n`);
    this.last = '';
  }

  /** Clears a half-drawn line (before other output, or on Ctrl-C). */
  clear(): void {
    if (this.tty && this.last !== '') this.stream.write('\r\x1b[K');
    this.last = '';
  }
}
