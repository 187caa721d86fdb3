import { PassThrough } from 'node:stream';
import { ProgressBar } from '../../src/cli/progress';

/** A stream that says it is a terminal (or not), keeping what was written. */
function stream(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  Object.assign(s, { isTTY: tty });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => text };
}

describe('ProgressBar', () => {
  it('on a terminal, shows the whole total from the first frame and redraws in place', async () => {
    const out = stream(true);
    const bar = new ProgressBar({ total: 4, label: 'deliveries landed', stream: out.stream, width: 8 });
    bar.start();
    bar.update(1, '1 retries');
    bar.finish(4);
    await new Promise((r) => setImmediate(r));
    // Each frame starts at the line's beginning and erases what an earlier, longer one left.
    const frames = out.text().replaceAll('\x1b[K', '<erase>').split('\r').filter(Boolean);
    expect(frames).toEqual([
      expect.stringMatching(/^\[░{8}\] 0\/4 deliveries landed \(\d+\.\d s\)<erase>$/),
      expect.stringMatching(/^\[██░{6}\] 1\/4 deliveries landed, 1 retries \(\d+\.\d s\)<erase>$/),
      expect.stringMatching(/^\[█{8}\] 4\/4 deliveries landed \(\d+\.\d s\)<erase>\n$/),
    ]);
  });

  it('elsewhere, prints the final state once and nothing before', async () => {
    const out = stream(false);
    const bar = new ProgressBar({ total: 2, label: 'orders submitted', stream: out.stream, width: 4 });
    bar.start();
    bar.update(1);
    bar.clear();
    bar.finish(2);
    await new Promise((r) => setImmediate(r));
    expect(out.text()).toMatch(/^\[████\] 2\/2 orders submitted \(\d+\.\d s\)\n$/);
  });
});
