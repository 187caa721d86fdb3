import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createLocalCa, type LocalCa } from './https';

/** A message as the receiver got it. */
export interface ReceivedMail {
  from: string;
  to: string[];
  /** Whether the session was TLS-protected when DATA arrived. */
  secure: boolean;
  raw: Buffer;
}

/**
 * A local SMTP server (smtp-server) with STARTTLS (or implicit TLS) and a certificate from a
 * generated CA, keeping every message in memory: a supplier's order inbox for the demo, the
 * integration tests and the benchmarks.
 */
export interface SmtpReceiver {
  readonly host: string;
  readonly port: number;
  readonly ca: LocalCa;
  readonly messages: ReceivedMail[];
  /** SMTP sessions opened so far (to see pooling). */
  connections(): number;
  /** Replies to the next RCPT TO with this SMTP code and text (e.g. 450 or 550). */
  rejectNextRecipient(code: number, text: string): void;
  reset(): void;
  /** Stops listening and drops every session, as a crashed server would (connections are refused). */
  down(): Promise<void>;
  /** Listens again on the same port with the same certificate (after {@link down}). */
  up(): Promise<void>;
  stop(): Promise<void>;
}

export interface SmtpReceiverOptions {
  /** Serve without STARTTLS (the command is disabled, not only hidden). */
  noStartTls?: boolean;
  /** Speak TLS from the first byte (SMTPS, as on port 465) instead of offering STARTTLS. */
  implicitTls?: boolean;
  /** Require AUTH with these credentials. */
  credentials?: { user: string; password: string };
}

/** Starts an SMTP receiver on a free loopback port. Call `stop()` when done. */
export async function startSmtpReceiver(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const ca = await createLocalCa('Dropship Local Mail CA');
  const cert = await ca.issue('localhost');
  const messages: ReceivedMail[] = [];
  const rejections: { code: number; text: string }[] = [];
  const credentials = options.credentials;
  let connections = 0;

  const makeServer = (): SMTPServer => {
    const server = new SMTPServer({
      secure: options.implicitTls === true,
      key: cert.key,
      cert: cert.cert,
      disabledCommands: options.noStartTls === true ? ['STARTTLS'] : [],
      authOptional: credentials === undefined,
      // smtp-server refuses AUTH before STARTTLS unless allowed; keep it that way.
      allowInsecureAuth: false,
      logger: false,
      onConnect: (_session, callback) => {
        connections += 1;
        callback();
      },
      onAuth: (auth, _session, callback) => {
        if (credentials !== undefined && auth.username === credentials.user && auth.password === credentials.password) {
          callback(null, { user: auth.username ?? '' });
          return;
        }
        const error = Object.assign(new Error('Invalid username or password'), { responseCode: 535 });
        callback(error);
      },
      onRcptTo: (_address, _session, callback) => {
        const rejection = rejections.shift();
        if (rejection === undefined) {
          callback();
          return;
        }
        callback(Object.assign(new Error(rejection.text), { responseCode: rejection.code }));
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const { mailFrom, rcptTo } = session.envelope;
          messages.push({
            from: mailFrom === false ? '' : mailFrom.address,
            to: rcptTo.map((r) => r.address),
            secure: session.secure,
            raw: Buffer.concat(chunks),
          });
          callback();
        });
      },
    });
    server.on('error', () => undefined);
    return server;
  };

  const listen = (server: SMTPServer, port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.server.off('error', reject);
        resolve();
      });
    });
  const openSockets = new WeakMap<SMTPServer, Set<Socket>>();
  const track = (server: SMTPServer): void => {
    const sockets = new Set<Socket>();
    openSockets.set(server, sockets);
    server.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  };
  const close = async (server: SMTPServer): Promise<void> => {
    // smtp-server waits for open sessions to end; a crash does not.
    for (const socket of openSockets.get(server) ?? []) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  let server: SMTPServer | undefined = makeServer();
  track(server);
  await listen(server, 0);
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    ca,
    messages,
    connections: () => connections,
    rejectNextRecipient: (code, text) => {
      rejections.push({ code, text });
    },
    reset: () => {
      messages.length = 0;
      rejections.length = 0;
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
      track(next);
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
