import { execFile, spawnSync } from 'node:child_process';
import { constants, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

/**
 * A local HTTPS receiver (like a supplier's order endpoint) with a certificate from a
 * throw-away CA, for the demo, the integration tests and the benchmarks.
 */

const run = promisify(execFile);

/** A certificate and key issued by a {@link LocalCa}. */
export interface LocalCert {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** A throw-away certificate authority made with the `openssl` CLI in a temp dir. */
export interface LocalCa {
  readonly dir: string;
  readonly caFile: string;
  readonly caPem: string;
  /** Issues a server certificate for `localhost` and 127.0.0.1, or a client certificate. */
  issue(name: string, usage?: 'server' | 'client'): Promise<LocalCert>;
  /** Removes the temp dir. */
  remove(): void;
}

/** True when the `openssl` CLI can be run (every local CA needs it). */
export function opensslAvailable(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

/** Creates a CA (EC P-256, valid two days) in a fresh temp dir. */
export async function createLocalCa(label = 'Dropship Local CA'): Promise<LocalCa> {
  const dir = mkdtempSync(join(tmpdir(), 'dropship-ca-'));
  const caFile = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', `/CN=${label}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return {
    dir,
    caFile,
    caPem: readFileSync(caFile, 'utf8'),
    issue: async (name, usage = 'server') => {
      const keyFile = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const certFile = join(dir, `${name}.crt`);
      const ext = join(dir, `${name}.ext`);
      writeFileSync(
        ext,
        usage === 'server'
          ? 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n'
          : 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n',
      );
      await run('openssl', [
        'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`,
      ]);
      await run('openssl', [
        'x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial',
        '-out', certFile, '-days', '2', '-extfile', ext,
      ]);
      return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** One scripted answer of {@link HttpsReceiver}. */
export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Waits this long before answering (for timeout tests). */
  delayMs?: number;
}

/** A request as the receiver saw it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Common name of the client certificate, when one was presented and verified. */
  clientCert?: string;
  /** Whether the Standard Webhooks signature matched (only when the receiver has a secret). */
  signatureValid?: boolean;
  /** The status the receiver answered with. */
  status?: number;
}

/** A real HTTPS server with a generated CA, answering from a script. */
export interface HttpsReceiver {
  readonly url: string;
  readonly port: number;
  readonly ca: LocalCa;
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[];
  /** TLS connections accepted so far (to see keep-alive at work). */
  connections(): number;
  /** Queues answers for the next requests; once the queue is empty every request gets a 200. */
  script(...responses: ScriptedResponse[]): void;
  /** Forgets requests and any queued answers. */
  reset(): void;
  /** Stops listening and drops every connection, as a crashed server would (connections are refused). */
  down(): Promise<void>;
  /** Listens again on the same port with the same certificate (after {@link down}). */
  up(): Promise<void>;
  /** Stops the server and removes the CA. */
  stop(): Promise<void>;
}

export interface HttpsReceiverOptions {
  /** Refuse TLS clients without a certificate issued by the receiver's CA. */
  requireClientCert?: boolean;
  /** Verify `webhook-*` headers with this Standard Webhooks secret; answer 401 when they do not match. */
  webhookSecret?: string;
  /**
   * Behave as nginx with `ssl_verify_client on`: ask for a client certificate, finish the
   * handshake whatever is presented, then answer a request without a valid one with 400 and
   * nginx's own HTML page ("No required SSL certificate was sent", or "The SSL certificate
   * error" for one the CA did not issue).
   */
  clientCertLikeNginx?: boolean;
}

/** nginx's error page for its internal 495 and 496, which it sends as 400 (ngx_http_special_response.c). */
export function nginxClientCertPage(reason: 'No required SSL certificate was sent' | 'The SSL certificate error'): string {
  return [
    '<html>',
    `<head><title>400 ${reason}</title></head>`,
    '<body>',
    '<center><h1>400 Bad Request</h1></center>',
    `<center>${reason}</center>`,
    '<hr><center>nginx</center>',
    '</body>',
    '</html>',
    '',
  ].join('\r\n');
}

/** The Standard Webhooks check, written from the spec independently of the transport. */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64'));
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || signature === undefined) return false;
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** Starts the receiver on a free loopback port with a certificate from a fresh CA. */
export async function startHttpsReceiver(options: HttpsReceiverOptions = {}): Promise<HttpsReceiver> {
  const ca = await createLocalCa();
  const cert = await ca.issue('localhost');
  const requests: ReceivedRequest[] = [];
  let queue: ScriptedResponse[] = [];
  let connections = 0;

  const makeServer = (): Server => {
    const server = createServer(
      {
        key: cert.key,
        cert: cert.cert,
        ca: ca.caPem,
        requestCert: options.requireClientCert === true,
        rejectUnauthorized: options.requireClientCert === true,
        // nginx asks for the certificate but judges it only once a request has arrived.
        // Node reports a resumed session as authorized whatever was presented at first, where
        // nginx keeps its verdict in the session: without tickets, each connection is judged.
        ...(options.clientCertLikeNginx === true ? { requestCert: true, secureOptions: constants.SSL_OP_NO_TICKET } : {}),
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const socket = req.socket as TLSSocket;
          const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
          const received: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
          if (peer?.subject !== undefined) received.clientCert = String(peer.subject.CN);
          if (options.webhookSecret !== undefined) {
            received.signatureValid = verifyStandardWebhook(options.webhookSecret, req.headers, body);
          }
          requests.push(received);
          const refusedCert = options.clientCertLikeNginx === true && !socket.authorized;
          const answer: ScriptedResponse = refusedCert
            ? {
                status: 400,
                headers: { server: 'nginx', 'content-type': 'text/html' },
                body: nginxClientCertPage(socket.getPeerCertificate().subject === undefined ? 'No required SSL certificate was sent' : 'The SSL certificate error'),
              }
            : received.signatureValid === false
              ? { status: 401, body: 'bad signature' }
              : (queue.shift() ?? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"accepted":true}' });
          received.status = answer.status;
          const send = (): void => {
            if (res.destroyed) return;
            res.writeHead(answer.status, answer.headers);
            res.end(answer.body ?? '');
          };
          if (answer.delayMs === undefined) send();
          else setTimeout(send, answer.delayMs).unref();
        });
      },
    );
    server.on('secureConnection', () => {
      connections += 1;
    });
    // A refused client certificate is the client's problem, not the receiver's.
    server.on('tlsClientError', () => undefined);
    return server;
  };

  const listen = (server: Server, port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const close = async (server: Server): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  let server: Server | undefined = makeServer();
  await listen(server, 0);
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    ca,
    requests,
    connections: () => connections,
    script: (...responses) => {
      queue.push(...responses);
    },
    reset: () => {
      requests.length = 0;
      queue = [];
      connections = 0;
    },
    down: async () => {
      const current = server;
      server = undefined;
      if (current !== undefined) await close(current);
    },
    up: async () => {
      if (server !== undefined) return;
      const next = makeServer();
      await listen(next, port);
      server = next;
    },
    stop: async () => {
      const current = server;
      server = undefined;
      if (current !== undefined) await close(current);
      ca.remove();
    },
  };
}
