import { randomFillSync } from 'node:crypto';
import * as base64 from 'nodemailer/lib/base64';
import type MimeNode from 'nodemailer/lib/mime-node';
import * as qp from 'nodemailer/lib/qp';

/**
 * The bytes of a MIME tree whose contents are all in memory (strings or Buffers), built at once.
 *
 * nodemailer's `MimeNode.build()` streams every node through its own stream `pipeline`, with a
 * `setImmediate` hop per part; for the few kilobytes of a purchase-order message that machinery
 * costs several times the message (each finished `pipeline` even allocates an `AbortError` with
 * its stack). This writes the same bytes the same way, with nodemailer's own pieces: each node's
 * `buildHeaders()` (headers, boundary, the root's Date, Message-ID and MIME-Version), its
 * `getTransferEncoding()` and the `base64`/`qp` encoders, line-wrapped at 76 as its streams
 * wrap, CRLF line breaks and one final line break. A test holds it byte for byte to `build()`.
 *
 * Only what a message built here uses is taken: a node with a stream, a raw body or
 * quoted-printable outside `text/*` (which nodemailer encodes in binary mode) is a programming
 * error and throws.
 */
export function mimeBytes(root: MimeNode): Buffer {
  const parts: string[] = [];
  writeNode(root, parts);
  let text = parts.join('');
  // nodemailer ends the message with a line break, then turns every lone LF into CRLF.
  if (text.endsWith('\r')) text += '\n';
  else if (!text.endsWith('\n')) text += '\r\n';
  return Buffer.from(text.replace(/(?<!\r)\n/g, '\r\n'), 'utf8');
}

function writeNode(node: MimeNode, parts: string[]): void {
  if ((node as { _raw?: unknown })._raw) throw new Error('mimeBytes: a node with a raw body is not supported');
  const encoding = node.getTransferEncoding();
  parts.push(`${node.buildHeaders()}\r\n\r\n`);
  const content = node.content;
  if (content !== undefined && content !== '') {
    if (typeof content !== 'string' && !Buffer.isBuffer(content)) throw new Error('mimeBytes: only string or Buffer contents are supported');
    if (encoding === 'base64') {
      parts.push(base64.wrap(base64.encode(content), 76));
    } else if (encoding === 'quoted-printable') {
      if (!/^text\//i.test(node.contentType ?? '')) throw new Error('mimeBytes: quoted-printable outside text/* is not supported');
      parts.push(qp.wrap(qp.encode(content), 76));
    } else if (typeof content === 'string') {
      parts.push(content);
    } else {
      throw new Error(`mimeBytes: a Buffer sent as ${encoding || 'is'} is not supported`);
    }
  }
  // `multipart` holds the subtype ('mixed', 'encrypted') or false, whatever its typing says.
  if (node.multipart) {
    node.childNodes.forEach((child, index) => {
      parts.push(`${index > 0 ? '\r\n' : ''}--${String(node.boundary)}\r\n`);
      writeNode(child, parts);
    });
    parts.push(`\r\n--${String(node.boundary)}--\r\n`);
  }
}

/** 8 random bytes per boundary base, from a buffer the CSPRNG fills 512 at a time. */
const BASE_BYTES = 8;
const BASE_POOL = Buffer.alloc(BASE_BYTES * 512);
let baseOffset = BASE_POOL.length;

/**
 * A fresh random base for a message's multipart boundaries (nodemailer's `baseBoundary`): as
 * random as the `randomBytes(8)` a `MimeNode` draws for itself, for every node of a tree,
 * children included (whose own is never used: a boundary is made from its root's), where one
 * per tree is all it takes. Each value is handed out once.
 */
export function boundaryBase(): string {
  if (baseOffset + BASE_BYTES > BASE_POOL.length) {
    randomFillSync(BASE_POOL);
    baseOffset = 0;
  }
  baseOffset += BASE_BYTES;
  return BASE_POOL.toString('hex', baseOffset - BASE_BYTES, baseOffset);
}
