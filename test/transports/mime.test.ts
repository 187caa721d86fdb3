import { Readable } from 'node:stream';
import fc from 'fast-check';
import MimeNode from 'nodemailer/lib/mime-node';
import { boundaryBase, mimeBytes } from '../../src/transports/mime';

/** Builds the same tree twice (boundaries and ids fixed by the inputs), so both can be compared. */
interface Tree {
  text: string;
  attachment: string;
  filename: string;
  contentType: string;
  armored: string;
  subject: string;
  messageId: string;
}

function pgpMimeLike(tree: Tree): { inner: MimeNode; outer: MimeNode } {
  const root = new MimeNode('multipart/mixed', { newline: 'win', baseBoundary: 'inner', boundaryPrefix: 'X' });
  const inner = new MimeNode('multipart/mixed', { rootNode: root, newline: 'win', baseBoundary: 'entity', boundaryPrefix: 'Y' });
  inner.createChild('text/plain; charset=utf-8').setContent(tree.text);
  inner
    .createChild(tree.contentType, { filename: tree.filename })
    .setHeader('Content-Disposition', 'attachment')
    .setHeader('Content-Transfer-Encoding', 'base64')
    .setContent(Buffer.from(tree.attachment, 'utf8'));
  const outer = new MimeNode('multipart/encrypted; protocol="application/pgp-encrypted"', { newline: 'win', baseBoundary: 'outer', boundaryPrefix: 'Z' });
  outer.setHeader({ From: 'po@store.example', To: 'orders@supplier.example', Subject: tree.subject, 'Message-ID': `<${tree.messageId}>`, Date: 'Sun, 06 Dec 2026 10:00:00 +0000' });
  outer.createChild('application/pgp-encrypted').setHeader('Content-Transfer-Encoding', '7bit').setContent('Version: 1\r\n');
  outer
    .createChild('application/octet-stream; name="encrypted.asc"')
    .setHeader('Content-Disposition', 'inline; filename="encrypted.asc"')
    .setHeader('Content-Transfer-Encoding', '7bit')
    .setContent(tree.armored);
  return { inner, outer };
}

const unicodeText = fc.string({ unit: 'binary', maxLength: 300 });
const lines = fc.array(fc.oneof(fc.string({ maxLength: 120 }), unicodeText), { maxLength: 12 }).map((parts) => parts.join('\n'));

describe('mimeBytes', () => {
  it('writes the same bytes as nodemailer\'s streaming build() for the PGP/MIME shapes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          text: fc.oneof(lines, unicodeText, fc.constant('Purchase order #1001 is attached as po-1001.json.\r\n')),
          attachment: fc.oneof(lines, fc.json()),
          filename: fc.oneof(fc.constant('po-1001.json'), fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })),
          contentType: fc.constantFrom('application/json', 'text/csv', 'application/xml', 'application/edi-x12', 'text/plain; charset=utf-8'),
          armored: fc.oneof(lines, fc.constant('-----BEGIN PGP MESSAGE-----\n\nwcFMA\n=abcd\n-----END PGP MESSAGE-----\n')),
          subject: fc.oneof(fc.string({ maxLength: 80 }), unicodeText),
          messageId: fc.stringMatching(/^[a-z0-9.]{1,20}@store\.example$/),
        }),
        async (tree) => {
          for (const pick of ['inner', 'outer'] as const) {
            const expected = await pgpMimeLike(tree)[pick].build();
            expect(mimeBytes(pgpMimeLike(tree)[pick]).toString('latin1')).toBe(expected.toString('latin1'));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('ends with one line break and turns lone LFs into CRLF, as nodemailer does', async () => {
    for (const content of ['no break at the end', 'ends with CR\r', 'ends with LF\n', 'a\nb\r\nc\rd']) {
      const make = (): MimeNode => {
        const node = new MimeNode('text/plain', { newline: 'win' });
        node.setHeader({ Date: 'Sun, 06 Dec 2026 10:00:00 +0000', 'Message-ID': '<a@b.example>' });
        node.setHeader('Content-Transfer-Encoding', '7bit');
        return node.setContent(content);
      };
      const ours = mimeBytes(make()).toString('latin1');
      expect(ours).toBe((await make().build()).toString('latin1'));
      expect(ours.endsWith('\r\n')).toBe(true);
      expect(ours).not.toMatch(/(?<!\r)\n/);
    }
  });

  it('refuses what it does not write: streams, raw bodies, Buffers sent as they are', () => {
    const streamed = new MimeNode('text/plain');
    streamed.setContent(Readable.from(['x']));
    expect(() => mimeBytes(streamed)).toThrow(/string or Buffer/);
    const raw = new MimeNode();
    raw.setRaw('Subject: x\r\n\r\nbody');
    expect(() => mimeBytes(raw)).toThrow(/raw body/);
    const buffer = new MimeNode('application/octet-stream');
    buffer.setHeader('Content-Transfer-Encoding', '7bit').setContent(Buffer.from('x'));
    expect(() => mimeBytes(buffer)).toThrow(/Buffer sent as 7bit/);
  });
});

describe('boundaryBase', () => {
  it('hands out 16 hex digits, each value once, across refills of its pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const base = boundaryBase();
      expect(base).toMatch(/^[0-9a-f]{16}$/);
      seen.add(base);
    }
    expect(seen.size).toBe(5_000);
  });
});
