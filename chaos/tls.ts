import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key, PEM. */
export interface Pem {
  cert: string;
  key: string;
}

/**
 * A throw-away CA (openssl) that can issue server certificates for 127.0.0.1 with any
 * validity window, past ones included (`openssl ca -startdate/-enddate`): the demo's CA only
 * issues certificates valid from now.
 */
export class ChaosCa {
  private constructor(readonly dir: string) {}

  static async create(): Promise<ChaosCa> {
    const dir = mkdtempSync(path.join(tmpdir(), 'dropship-chaos-ca-'));
    try {
      await run('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.crt'), '-days', '3', '-subj', '/CN=Dropship Chaos CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      writeFileSync(path.join(dir, 'index.txt'), '');
      writeFileSync(path.join(dir, 'serial'), '1000\n');
      writeFileSync(
        path.join(dir, 'ca.cnf'),
        [
          '[ ca ]',
          'default_ca = chaos',
          '[ chaos ]',
          `database = ${path.join(dir, 'index.txt')}`,
          `new_certs_dir = ${dir}`,
          `serial = ${path.join(dir, 'serial')}`,
          'default_md = sha256',
          'policy = anything',
          'unique_subject = no',
          '[ anything ]',
          'commonName = supplied',
          '',
        ].join('\n'),
      );
      return new ChaosCa(dir);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get caFile(): string {
    return path.join(this.dir, 'ca.crt');
  }

  /** A server certificate for localhost and 127.0.0.1 valid from `notBefore` to `notAfter`. */
  async issue(name: string, notBefore: Date, notAfter: Date): Promise<Pem> {
    const keyFile = path.join(this.dir, `${name}.key`);
    const csr = path.join(this.dir, `${name}.csr`);
    const certFile = path.join(this.dir, `${name}.crt`);
    const ext = path.join(this.dir, `${name}.ext`);
    writeFileSync(ext, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
    const stamp = (d: Date): string => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
    await run('openssl', [
      'ca', '-batch', '-config', path.join(this.dir, 'ca.cnf'), '-cert', this.caFile, '-keyfile', path.join(this.dir, 'ca.key'),
      '-in', csr, '-out', certFile, '-notext', '-extfile', ext, '-startdate', stamp(notBefore), '-enddate', stamp(notAfter),
    ]);
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TLS front for an HTTPS receiver: it presents a certificate of the scenario's choosing (an
 * expired one, then a renewed one) and passes the decrypted bytes on to the real receiver over
 * a verified TLS connection, so the receiver still sees and counts every request.
 */
export class TlsFront {
  private constructor(
    private readonly server: tls.Server,
    readonly port: number,
    private readonly sockets: Set<net.Socket>,
  ) {}

  static async start(certificate: Pem, upstream: { port: number; ca: string }): Promise<TlsFront> {
    const sockets = new Set<net.Socket>();
    const server = tls.createServer({ cert: certificate.cert, key: certificate.key }, (client) => {
      sockets.add(client);
      const onward = tls.connect({ host: '127.0.0.1', port: upstream.port, ca: upstream.ca, servername: 'localhost' });
      sockets.add(onward);
      const close = (): void => {
        client.destroy();
        onward.destroy();
        sockets.delete(client);
        sockets.delete(onward);
      };
      client.on('error', close).on('close', close);
      onward.on('error', close).on('close', close);
      client.pipe(onward).pipe(client);
    });
    // A client refusing our (expired) certificate is the point, not an error.
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new TlsFront(server, (server.address() as net.AddressInfo).port, sockets);
  }

  /** Presents another certificate from the next handshake on (a renewal). */
  renew(certificate: Pem): void {
    this.server.setSecureContext({ cert: certificate.cert, key: certificate.key });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
