import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { boundedRequest } from '../../src/transports/http';
import { DeliveryError } from '../../src/transports/transport';

/**
 * boundedRequest against a real local HTTP server: its deadline, the caller's abort, and its
 * cap on the answer read. The server's modes are chosen per path.
 */
describe('boundedRequest', () => {
  let server: Server;
  let pool: Pool;
  let requests = 0;
  const hanging: ServerResponse[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests += 1;
      if (req.url === '/silent') {
        hanging.push(res); // never answers
      } else if (req.url === '/trickle') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first part;');
        hanging.push(res); // the rest never comes
      } else if (req.url === '/big') {
        res.end('x'.repeat(10_000));
      } else {
        res.end('ok');
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 4 });
  });

  afterAll(async () => {
    for (const res of hanging) res.destroy();
    await pool.destroy();
    server.close();
  });

  const limits = { timeoutMs: 2_000, maxBytes: 1_000, where: 'the test server' };

  it('reads an answer within its limits', async () => {
    const answer = await boundedRequest(pool, { method: 'GET', path: '/' }, limits);
    expect(answer).toMatchObject({ status: 200, text: 'ok', truncated: false });
  });

  it('keeps only the first maxBytes of a longer answer, and says so', async () => {
    const answer = await boundedRequest(pool, { method: 'GET', path: '/big' }, limits);
    expect(answer.truncated).toBe(true);
    expect(answer.text.length).toBeLessThanOrEqual(1_000);
  });

  it('gives up on a server that does not answer: a retryable ETIMEDOUT naming the deadline', async () => {
    const error = await boundedRequest(pool, { method: 'GET', path: '/silent' }, { ...limits, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', permanent: false, message: 'the test server did not answer within 150 ms' });
  });

  it('gives up on an answer whose body stops coming', async () => {
    const error = await boundedRequest(pool, { method: 'GET', path: '/trickle' }, { ...limits, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', message: 'the test server did not answer within 150 ms' });
  });

  it('stops when the caller aborts, and says it was aborted rather than late', async () => {
    const caller = new AbortController();
    setTimeout(() => caller.abort(), 100);
    const error = await boundedRequest(pool, { method: 'GET', path: '/silent' }, { ...limits, signal: caller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', permanent: false, message: 'request to the test server was aborted' });
  });

  it('sends nothing when the caller aborted before it started', async () => {
    const before = requests;
    const caller = new AbortController();
    caller.abort();
    const error = await boundedRequest(pool, { method: 'GET', path: '/' }, { ...limits, signal: caller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', message: 'request to the test server was aborted' });
    expect(requests).toBe(before);
  });

  it('leaves no listener on the caller\'s signal once done', async () => {
    const caller = new AbortController();
    const added: string[] = [];
    const removed: string[] = [];
    const { addEventListener, removeEventListener } = caller.signal;
    caller.signal.addEventListener = ((type: string, ...rest: unknown[]) => {
      added.push(type);
      return (addEventListener as (...a: unknown[]) => void).call(caller.signal, type, ...rest);
    }) as typeof caller.signal.addEventListener;
    caller.signal.removeEventListener = ((type: string, ...rest: unknown[]) => {
      removed.push(type);
      return (removeEventListener as (...a: unknown[]) => void).call(caller.signal, type, ...rest);
    }) as typeof caller.signal.removeEventListener;
    await boundedRequest(pool, { method: 'GET', path: '/' }, { ...limits, signal: caller.signal });
    await boundedRequest(pool, { method: 'GET', path: '/silent' }, { ...limits, timeoutMs: 50, signal: caller.signal }).catch(() => undefined);
    expect(added).toEqual(['abort', 'abort']);
    expect(removed).toEqual(['abort', 'abort']);
  });
});
