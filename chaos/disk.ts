import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * A tiny tmpfs mounted on a folder, then filled to the last byte: a real "no space left on
 * device" for whoever writes there. Needs the right to mount (root, or CAP_SYS_ADMIN);
 * {@link TinyDisk.mount} returns undefined when that is not given.
 */
export class TinyDisk {
  private mounted = true;

  private constructor(readonly dir: string) {}

  static mount(dir: string, size = '64k'): TinyDisk | undefined {
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0777`, 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
    const disk = new TinyDisk(dir);
    process.once('exit', () => disk.unmount());
    return disk;
  }

  private get filler(): string {
    return path.join(this.dir, '.filler');
  }

  /** Fills the disk until the kernel says ENOSPC. */
  fill(): void {
    const fd = openSync(this.filler, 'w');
    const chunk = Buffer.alloc(4096, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      closeSync(fd);
    }
  }

  /** Frees the space again. */
  free(): void {
    rmSync(this.filler, { force: true });
  }

  unmount(): void {
    if (!this.mounted) return;
    this.mounted = false;
    try {
      execFileSync('umount', [this.dir], { stdio: 'ignore' });
    } catch {
      // Busy (an sftp session still has it open): detach it now, gone when released.
      try {
        execFileSync('umount', ['-l', this.dir], { stdio: 'ignore' });
      } catch {
        // not mounted any more
      }
    }
  }
}
