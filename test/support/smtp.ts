import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createTestCa, type TestCa } from './https';

/** A message as the server received it. */
export interface ReceivedMail {
  from: string;
  to: string[];
  /** Whether the session was TLS-protected when DATA arrived. */
  secure: boolean;
  raw: Buffer;
}

/** A real SMTP server (smtp-server) with STARTTLS (or implicit TLS) and a certificate from a generated CA. */
export interface TestSmtpServer {
  readonly host: string;
  readonly port: number;
  readonly ca: TestCa;
  readonly messages: ReceivedMail[];
  /** SMTP sessions opened so far (to see pooling). */
  connections(): number;
  /** Replies to the next RCPT TO with this SMTP code and text (e.g. 450 or 550). */
  rejectNextRecipient(code: number, text: string): void;
  reset(): void;
  stop(): Promise<void>;
}

export interface SmtpServerOptions {
  /** Serve without STARTTLS (the command is disabled, not only hidden). */
  noStartTls?: boolean;
  /** Speak TLS from the first byte (SMTPS, as on port 465) instead of offering STARTTLS. */
  implicitTls?: boolean;
  /** Require AUTH with these credentials. */
  credentials?: { user: string; password: string };
}

/** Starts an SMTP server on a free loopback port. Call `stop()` in `afterAll`. */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const ca = await createTestCa('Dropship Test Mail CA');
  const cert = await ca.issue('localhost');
  const messages: ReceivedMail[] = [];
  const rejections: { code: number; text: string }[] = [];
  const credentials = options.credentials;
  let connections = 0;

  const server = new SMTPServer({
    secure: options.implicitTls === true,
    key: cert.key,
    cert: cert.cert,
    disabledCommands: options.noStartTls === true ? ['STARTTLS'] : [],
    authOptional: credentials === undefined,
    // smtp-server refuses AUTH before STARTTLS unless allowed; the client under test never tries.
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ca.remove();
    },
  };
}
