import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { fedexCarrier } from '../../src/carriers/fedex/request';
import { fedexOptionsSchema } from '../../src/carriers/fedex/options';
import { fedexTransport } from '../../src/carriers/fedex/client';
import { upsCarrier } from '../../src/carriers/ups/request';
import { upsOptionsSchema } from '../../src/carriers/ups/options';
import { upsTransId, upsTransport } from '../../src/carriers/ups/client';
import { redisSharedCache } from '../../src/queue/shared-cache';
import {
  DeliveryError,
  type DeliveryPayload,
  type LabelVoid,
  type SharedCache,
  type Transport,
  type TransportContext,
  type TransportKind,
} from '../../src/transports/transport';
import {
  SAMPLE_LABELS,
  errorBody,
  fedexShipResponse,
  responseValidator,
  startFedexStandIn,
  startUpsStandIn,
  upsShipResponse,
  type Carrier,
  type CarrierStandIn,
} from '../../testkit/carrier-standins';
import { freePort } from '../../src/queue/embedded-redis';
import { TestRedis } from '../support/redis';
import { domesticShipment } from './fixtures';

/**
 * The UPS and FedEx API clients against local stand-ins that check every request against
 * the carriers' published OpenAPI documents: a shipment built by the real request builder
 * goes in, a tracking number and a label come out; failures come back classified.
 */

jest.setTimeout(20_000);

let ups: CarrierStandIn;
let fedex: CarrierStandIn;
let redis: TestRedis;
let redisClient: Redis;
const configDir = mkdtempSync(join(tmpdir(), 'dropship-carrier-config-'));

beforeAll(async () => {
  [ups, fedex, redis] = await Promise.all([startUpsStandIn(), startFedexStandIn(), TestRedis.start()]);
  redisClient = redis.client();
});

afterAll(async () => {
  redisClient?.disconnect();
  await Promise.all([ups?.stop(), fedex?.stop(), redis?.stop()]);
  rmSync(configDir, { recursive: true, force: true });
});

const open: Transport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  // Every request the clients sent, and every answer the stand-ins gave, matched the specs.
  expect([...ups.violations, ...fedex.violations]).toEqual([]);
  ups.reset();
  fedex.reset();
});

interface Harness {
  standIn: () => CarrierStandIn;
  kind: TransportKind;
  /** The builder's required account option. */
  account: Record<string, string>;
  build(options: Record<string, unknown>): string;
  envPrefix: string;
  tracking: RegExp;
  label: { format: string; image: string };
  charges: string;
}

const HARNESS: Record<Carrier, Harness> = {
  ups: {
    standIn: () => ups,
    kind: upsTransport,
    account: { shipperNumber: 'A1B2C3' },
    build: (options) => upsCarrier.build(domesticShipment('ups', '03'), upsOptionsSchema.parse(options)).body,
    envPrefix: 'UPS',
    tracking: /^1ZA1B2C303\d{8}$/,
    label: { format: 'GIF', image: SAMPLE_LABELS.GIF ?? '' },
    charges: '14.22 USD',
  },
  fedex: {
    standIn: () => fedex,
    kind: fedexTransport,
    account: { accountNumber: '740561073' },
    build: (options) => fedexCarrier.build(domesticShipment('fedex', 'FEDEX_GROUND'), fedexOptionsSchema.parse(options)).body,
    envPrefix: 'FEDEX',
    tracking: /^7949\d{8}$/,
    label: { format: 'PDF', image: SAMPLE_LABELS.PDF ?? '' },
    charges: '23.45 USD',
  },
};

let sequence = 0;

describe.each(['ups', 'fedex'] as const)('%s API client', (carrier) => {
  const h = HARNESS[carrier];
  const idEnv = `${h.envPrefix}_CLIENT_ID`;
  const secretEnv = `${h.envPrefix}_CLIENT_SECRET`;

  /** The `carriers.<id>` block of store.yaml, pointed at the stand-in. */
  const block = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    ...h.account,
    baseUrl: h.standIn().url,
    caFile: h.standIn().caFile,
    clientIdEnv: idEnv,
    clientSecretEnv: secretEnv,
    timeout: '5s',
    ...overrides,
  });

  const env = (): NodeJS.ProcessEnv => ({ [idEnv]: h.standIn().clientId, [secretEnv]: h.standIn().clientSecret });

  const create = (options: Record<string, unknown> = block(), context: Partial<TransportContext> = {}): Transport => {
    const transport = h.kind.create(h.kind.optionsSchema.parse(options), { instanceId: carrier, configDir, env: env(), ...context });
    open.push(transport);
    return transport;
  };

  const payload = (body: string = h.build(h.account)): DeliveryPayload => {
    sequence += 1;
    return {
      deliveryId: `dlv-1001-${carrier}-${process.pid}-${sequence}`,
      orderId: '1001',
      recipient: carrier,
      kind: 'carrier',
      format: `${carrier}-ship`,
      filename: `1001-${carrier}.json`,
      contentType: 'application/json',
      body,
    };
  };

  /** The error a promise rejects with, checked to leak no credential and no token. */
  async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
    const error: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeliveryError);
    const { message } = error as DeliveryError;
    for (const secret of [h.standIn().clientId, h.standIn().clientSecret, 'wrong-secret-value', ...h.standIn().tokens]) {
      expect(message).not.toContain(secret);
    }
    return error as DeliveryError;
  }

  const ships = () => h.standIn().requestsTo('ship');
  const tokenRequests = () => h.standIn().requestsTo('token');

  it('buys a label: the builder’s body reaches the API unchanged, with the spec’s headers, and the receipt carries tracking number, label and charges', async () => {
    const transport = create();
    const delivery = payload();
    const receipt = await transport.deliver(delivery);

    const trackingNumber = receipt.response?.trackingNumber ?? '';
    expect(trackingNumber).toMatch(h.tracking);
    expect(receipt).toEqual({
      location: `${carrier}:${trackingNumber}`,
      response: { carrier, trackingNumber, label: h.label.image, labelFormat: h.label.format, charges: h.charges },
    });

    const [token] = tokenRequests();
    const [ship] = ships();
    expect(ship?.body).toBe(delivery.body);
    expect(ship?.headers.authorization).toBe(`Bearer ${h.standIn().tokens[0]}`);
    expect(ship?.headers['content-type']).toBe('application/json');
    if (carrier === 'ups') {
      expect(token?.headers.authorization).toBe(`Basic ${Buffer.from(`${ups.clientId}:${ups.clientSecret}`).toString('base64')}`);
      expect(token?.body).toBe('grant_type=client_credentials');
      expect(ship?.path).toBe('/api/shipments/v2409/ship');
      expect(ship?.headers.transid).toBe(upsTransId(delivery.deliveryId));
      expect(ship?.headers.transid).toHaveLength(32);
      expect(ship?.headers.transactionsrc).toBe('dropship');
    } else {
      expect(token?.headers.authorization).toBeUndefined();
      expect(Object.fromEntries(new URLSearchParams(token?.body))).toEqual({
        grant_type: 'client_credentials',
        client_id: fedex.clientId,
        client_secret: fedex.clientSecret,
      });
      expect(ship?.path).toBe('/ship/v1/shipments');
      expect(ship?.headers['x-customer-transaction-id']).toBe(delivery.deliveryId);
      expect(ship?.headers['x-locale']).toBe('en_US');
    }
  });

  it('uses one token for many concurrent deliveries', async () => {
    h.standIn().tokenDelayMs = 100;
    const transport = create();
    const receipts = await Promise.all(Array.from({ length: 8 }, () => transport.deliver(payload())));
    expect(new Set(receipts.map((r) => r.response?.trackingNumber)).size).toBe(8);
    expect(tokenRequests()).toHaveLength(1);
    expect(new Set(ships().map((s) => s.token))).toEqual(new Set([h.standIn().tokens[0]]));
  });

  it('answers an expired token (401) with one refresh and one retry', async () => {
    const transport = create();
    await transport.deliver(payload());
    h.standIn().expireTokens();
    const receipt = await transport.deliver(payload());
    expect(receipt.response?.trackingNumber).toMatch(h.tracking);
    expect(ships().map((s) => s.status)).toEqual([200, 401, 200]);
    expect(tokenRequests()).toHaveLength(2);
    expect(ships()[2]?.token).toBe(h.standIn().tokens[1]);
  });

  it('reports 429 as rate-limited, retrying no sooner than Retry-After', async () => {
    const transport = create();
    h.standIn().script('ship', { status: 429, retryAfter: '7', errors: [{ code: 'RATE.LIMIT.EXCEEDED', message: 'Rate limit exceeded' }] });
    const error = await failure(transport.deliver(payload()));
    expect(error).toMatchObject({ code: 'ERATE_LIMITED', permanent: false, retryAfterMs: 7000 });
    expect(error.message).toContain('RATE.LIMIT.EXCEEDED');
  });

  it('reports a server error as retryable', async () => {
    const transport = create();
    h.standIn().script('ship', { status: 500, errors: [{ code: 'INTERNAL.SERVER.ERROR', message: 'We encountered an unexpected error' }] });
    const error = await failure(transport.deliver(payload()));
    expect(error).toMatchObject({ code: 'EREMOTE', permanent: false });
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('reports a refused shipment (400) as permanent with the carrier’s code, its message cut to 200 characters', async () => {
    const transport = create();
    // Carriers may quote the address they refuse; the message is kept as sent but cut short.
    const quoted = `Missing or invalid ship to address: 12 Main St, Apt 4, Burlington VT 05401 ${'x'.repeat(300)}`;
    h.standIn().script('ship', { status: 400, errors: [{ code: '120802', message: quoted }] });
    const error = await failure(transport.deliver(payload()));
    expect(error).toMatchObject({ code: 'EREJECTED', permanent: true });
    expect(error.message).toMatch(new RegExp(`^${carrier === 'ups' ? 'UPS' : 'FedEx'} ship request answered 400: 120802 Missing or invalid ship to address`));
    expect(error.message).not.toContain('x'.repeat(200));
    expect(error.message.length).toBeLessThan(260);
  });

  it('stops without buying when the answer names no tracking number (a label may have been bought)', async () => {
    const transport = create();
    const noTracking =
      carrier === 'ups'
        ? { ShipmentResponse: { Response: { ResponseStatus: { Code: '1', Description: 'Success' } }, ShipmentResults: { BillingWeight: { UnitOfMeasurement: { Code: 'LBS' }, Weight: '000003.4' } } } }
        : { transactionId: randomUUID(), output: { transactionShipments: [] } };
    h.standIn().script('ship', { status: 200, body: noTracking });
    const error = await failure(transport.deliver(payload()));
    expect(error).toMatchObject({ code: 'EREMOTE', permanent: true });
    expect(error.message).toContain('check the');
  });

  it('reports credentials the token endpoint refuses as permanent EAUTH, and sends no shipment', async () => {
    const transport = create(block(), { env: { [idEnv]: h.standIn().clientId, [secretEnv]: 'wrong-secret-value' } });
    const error = await failure(transport.deliver(payload()));
    expect(error).toMatchObject({ code: 'EAUTH', permanent: true });
    expect(error.message).toMatch(/refused the client credentials \(401: (10401|NOT\.AUTHORIZED\.ERROR) /);
    expect(ships()).toHaveLength(0);
  });

  it('reports a rate-limited token endpoint as retryable after Retry-After', async () => {
    const transport = create();
    h.standIn().script('token', { status: carrier === 'ups' ? 429 : 503, retryAfter: '3', errors: [{ code: 'SERVICE.UNAVAILABLE.ERROR', message: 'Try later' }] });
    const error = await failure(transport.deliver(payload()));
    expect(error).toMatchObject({ permanent: false, retryAfterMs: 3000 });
    expect(ships()).toHaveLength(0);
  });

  it('verify() fetches a token and buys nothing; a later delivery reuses it', async () => {
    const transport = create();
    await expect(transport.verify()).resolves.toBeUndefined();
    expect(tokenRequests()).toHaveLength(1);
    expect(ships()).toHaveLength(0);
    await transport.deliver(payload());
    expect(tokenRequests()).toHaveLength(1);
  });

  it('verify() fails with EAUTH for refused credentials', async () => {
    const transport = create(block(), { env: { [idEnv]: 'someone-else', [secretEnv]: 'wrong-secret-value' } });
    expect(await failure(transport.verify())).toMatchObject({ code: 'EAUTH', permanent: true });
  });

  it('reads credentials from files and the CA from paths relative to the config directory', async () => {
    const dir = mkdtempSync(join(configDir, `${carrier}-`));
    writeFileSync(join(dir, 'client-id'), `${h.standIn().clientId}\n`);
    writeFileSync(join(dir, 'client-secret'), `${h.standIn().clientSecret}\n`);
    copyFileSync(h.standIn().caFile, join(dir, 'carrier-ca.pem'));
    const options = block({ clientIdEnv: undefined, clientSecretEnv: undefined, clientIdFile: 'client-id', clientSecretFile: 'client-secret', caFile: 'carrier-ca.pem' });
    const transport = create(options, { configDir: dir, env: {} });
    await expect(transport.verify()).resolves.toBeUndefined();
    expect(tokenRequests().map((r) => r.status)).toEqual([200]);
  });

  it('names the missing variable or file at create() time, never a value', () => {
    const attempt = (options: Record<string, unknown>, environment: NodeJS.ProcessEnv): DeliveryError => {
      try {
        h.kind.create(h.kind.optionsSchema.parse(options), { instanceId: carrier, configDir, env: environment });
      } catch (error) {
        expect(error).toBeInstanceOf(DeliveryError);
        return error as DeliveryError;
      }
      throw new Error('create() did not throw');
    };
    const unsetSecret = attempt(block(), { [idEnv]: h.standIn().clientId });
    expect(unsetSecret).toMatchObject({ code: 'ECONFIG', permanent: true });
    expect(unsetSecret.message).toBe(`carriers.${carrier}.clientSecretEnv: environment variable ${secretEnv} (the client secret) is not set`);
    expect(attempt(block({ clientIdEnv: undefined }), env()).message).toBe(
      `carriers.${carrier}: clientIdEnv or clientIdFile is required (the API client ID; secrets never live in config files)`,
    );
    const missingFile = attempt(block({ clientSecretEnv: undefined, clientSecretFile: 'secrets/none' }), env());
    expect(missingFile.message).toBe(`carriers.${carrier}.clientSecretFile: ${join(configDir, 'secrets/none')} cannot be read (ENOENT)`);
    expect(attempt(block({ caFile: 'missing-ca.pem' }), env()).message).toContain(`carriers.${carrier}.caFile`);
  });

  it('refuses a payload of another format without calling the API', async () => {
    const transport = create();
    const error = await failure(transport.deliver({ ...payload(), format: 'csv' }));
    expect(error).toMatchObject({ code: 'EPAYLOAD', permanent: true });
    expect(h.standIn().requests).toHaveLength(0);
  });

  it('refuses a server whose certificate it cannot verify (no caFile) for good', async () => {
    const transport = create(block({ caFile: undefined }));
    expect(await failure(transport.deliver(payload()))).toMatchObject({ code: 'ETLS', permanent: true });
  });

  it('reports an unreachable API as retryable', async () => {
    const transport = create(block({ baseUrl: `https://127.0.0.1:${await freePort()}` }));
    const error = await failure(transport.deliver(payload()));
    expect(error.permanent).toBe(false);
    expect(error.code).toBe('ECONNECTION');
    // Refused before anything was sent: the carrier cannot have sold a label.
    expect(error.unsure).toBe(false);
  });

  it('closes idempotently and refuses deliveries afterwards (retryable)', async () => {
    const transport = create();
    await transport.close();
    await transport.close();
    expect(await failure(transport.deliver(payload()))).toMatchObject({ code: 'ECONNECTION', permanent: false });
  });

  describe('voiding a bought label (the order was cancelled)', () => {
    /** Buys a label and returns what voiding it takes. */
    async function bought(transport: Transport): Promise<LabelVoid> {
      const delivery = payload();
      const receipt = await transport.deliver(delivery);
      const trackingNumber = receipt.response?.trackingNumber ?? '';
      return {
        deliveryId: `${delivery.deliveryId}-void`,
        orderId: '1001',
        shipmentId: '1001+warehouse',
        recipient: carrier,
        labelDeliveryId: delivery.deliveryId,
        trackingNumber,
        ...(receipt.response?.shipmentNumber ? { shipmentNumber: receipt.response.shipmentNumber } : {}),
      };
    }

    it('sends the spec’s void call (UPS DELETE void/cancel, FedEx PUT shipments/cancel) and the carrier no longer holds the label', async () => {
      const transport = create();
      const label = await bought(transport);
      expect(h.standIn().labels.has(label.trackingNumber)).toBe(true);

      const receipt = await transport.voidLabel!(label);
      expect(receipt).toEqual({ location: `${carrier}:${label.trackingNumber}:voided`, response: { carrier, trackingNumber: label.trackingNumber, voided: 'true' } });
      expect(h.standIn().voided).toEqual([label.trackingNumber]);
      expect(h.standIn().labels.has(label.trackingNumber)).toBe(false);

      const [request] = h.standIn().requestsTo('void');
      expect(request?.headers.authorization).toBe(`Bearer ${h.standIn().tokens[0]}`);
      expect(tokenRequests()).toHaveLength(1);
      if (carrier === 'ups') {
        expect(request?.method).toBe('DELETE');
        expect(request?.path).toBe(`/api/shipments/v2409/void/cancel/${label.trackingNumber}`);
        expect(request?.headers.transid).toBe(upsTransId(label.deliveryId));
        expect(request?.body).toBe('');
      } else {
        expect(request?.method).toBe('PUT');
        expect(request?.path).toBe('/ship/v1/shipments/cancel');
        expect(JSON.parse(request?.body ?? '')).toEqual({ accountNumber: { value: '740561073' }, trackingNumber: label.trackingNumber, deletionControl: 'DELETE_ALL_PACKAGES' });
        expect(request?.headers['x-customer-transaction-id']).toBe(label.deliveryId);
      }
    });

    it('reports a label the carrier will not void (already voided, unknown) as permanent EREJECTED with the carrier’s code', async () => {
      const transport = create();
      const label = await bought(transport);
      await transport.voidLabel!(label);
      const error = await failure(transport.voidLabel!(label));
      expect(error).toMatchObject({ code: 'EREJECTED', permanent: true });
      expect(error.message).toContain(carrier === 'ups' ? '190117' : 'TRACKING.TRACKINGNUMBER.NOTFOUND');
    });

    it('reports a 2xx that does not say "voided" as permanent, with the carrier’s words', async () => {
      const transport = create();
      const label = await bought(transport);
      h.standIn().script('void', {
        status: 200,
        body:
          carrier === 'ups'
            ? { VoidShipmentResponse: { Response: { ResponseStatus: { Code: '1', Description: 'Success' } }, SummaryResult: { Status: { Code: '0', Description: 'Not Voided' } } } }
            : { transactionId: 'f6f7a5b4-0000-4000-8000-000000000001', output: { cancelledShipment: false, message: 'Shipment already tendered' } },
      });
      const error = await failure(transport.voidLabel!(label));
      expect(error).toMatchObject({ code: 'EREJECTED', permanent: true });
      expect(error.message).toContain(carrier === 'ups' ? 'Not Voided' : 'Shipment already tendered');
      expect(h.standIn().labels.has(label.trackingNumber)).toBe(true);
    });

    it('answers an expired token with one refresh, and retries rate limits no sooner than Retry-After', async () => {
      const transport = create();
      const label = await bought(transport);
      h.standIn().script('void', { status: 429, retryAfter: '7', errors: [{ code: '429', message: 'Rate limit exceeded' }] });
      expect(await failure(transport.voidLabel!(label))).toMatchObject({ code: 'ERATE_LIMITED', permanent: false, retryAfterMs: 7000 });
      h.standIn().expireTokens();
      await transport.voidLabel!(label);
      expect(tokenRequests()).toHaveLength(2);
      expect(h.standIn().voided).toEqual([label.trackingNumber]);
    });

    it('refuses a tracking number that is not one, without calling the API', async () => {
      const transport = create();
      const error = await failure(transport.voidLabel!({ deliveryId: 'x-void', orderId: '1', shipmentId: '1+w', recipient: carrier, labelDeliveryId: 'x', trackingNumber: '../../ship' }));
      expect(error).toMatchObject({ code: 'EPAYLOAD', permanent: true });
      expect(h.standIn().requestsTo('void')).toEqual([]);
    });
  });

  describe('a label whose answer was lost (asked for by its reference before buying again)', () => {
    const recovers = () => h.standIn().requestsTo('recover');
    const since = () => new Date(Date.now() - 60_000);

    it('the purchase sold the label and dropped the answer: the client sees an unsure failure', async () => {
      const transport = create();
      h.standIn().script('ship', { status: 200, lostAnswer: true });
      const error = await failure(transport.deliver(payload()));
      expect(error.unsure).toBe(true);
      expect(error.permanent).toBe(false);
      expect(h.standIn().sold).toEqual([expect.objectContaining({ answerLost: true, voided: false, reference: expect.stringMatching(/^DS[A-P]{24}$/) })]);
    });

    if (carrier === 'ups') {
      it('UPS gives the label back by reference (Label Recovery): the same tracking number and label, nothing bought again', async () => {
        const transport = create();
        const delivery = payload();
        h.standIn().script('ship', { status: 200, lostAnswer: true });
        await failure(transport.deliver(delivery));
        const [sold] = h.standIn().sold;
        const recovery = await transport.recoverLabel!(delivery, since());
        expect(recovery).toEqual({
          outcome: 'recovered',
          receipt: {
            location: `ups:${sold?.trackingNumber}`,
            response: { carrier: 'ups', trackingNumber: sold?.trackingNumber, label: SAMPLE_LABELS.GIF, labelFormat: 'GIF', recovered: 'true' },
          },
        });
        expect(h.standIn().sold).toHaveLength(1);
        const [asked] = recovers();
        expect(asked?.path).toBe('/api/labels/v1/recovery');
        expect(asked?.headers.transid).toBe(upsTransId(delivery.deliveryId));
        expect(JSON.parse(asked?.body ?? '{}')).toEqual({
          LabelRecoveryRequest: {
            Request: { TransactionReference: { CustomerContext: upsTransId(delivery.deliveryId) } },
            LabelSpecification: { LabelImageFormat: { Code: 'GIF' }, LabelStockSize: { Height: '6', Width: '4' } },
            ReferenceValues: { ReferenceNumber: { Value: sold?.reference }, ShipperNumber: 'A1B2C3' },
          },
        });
      });

      it('reads LabelResults as one object or as a list', async () => {
        const transport = create();
        const delivery = payload();
        const image = { LabelImageFormat: { Code: 'ZPL' }, GraphicImage: SAMPLE_LABELS.ZPL };
        h.standIn().script(
          'recover',
          { status: 200, body: { LabelRecoveryResponse: { Response: { ResponseStatus: { Code: '1', Description: 'Success' } }, LabelResults: { TrackingNumber: '1ZA1B2C30300000011', LabelImage: image } } } },
          { status: 200, body: { LabelRecoveryResponse: { Response: { ResponseStatus: { Code: '1', Description: 'Success' } }, LabelResults: [{ TrackingNumber: '1ZA1B2C30300000021', LabelImage: image }] } } },
        );
        const one = await transport.recoverLabel!(delivery, since());
        const list = await transport.recoverLabel!(delivery, since());
        expect(one).toEqual({ outcome: 'recovered', receipt: expect.objectContaining({ response: expect.objectContaining({ trackingNumber: '1ZA1B2C30300000011', label: SAMPLE_LABELS.ZPL, labelFormat: 'ZPL' }) }) });
        expect(list).toEqual({ outcome: 'recovered', receipt: expect.objectContaining({ response: expect.objectContaining({ trackingNumber: '1ZA1B2C30300000021' }) }) });
      });
    } else {
      it('FedEx finds the shipment by its customer reference and cancels it (its label cannot be had again); the label bought next is the only live one', async () => {
        const transport = create();
        const delivery = payload();
        h.standIn().script('ship', { status: 200, lostAnswer: true });
        await failure(transport.deliver(delivery));
        const [lost] = h.standIn().sold;
        const recovery = await transport.recoverLabel!(delivery, new Date('2026-03-01T23:30:00Z'));
        expect(recovery).toEqual({ outcome: 'cancelled', trackingNumbers: [lost?.trackingNumber] });
        expect(h.standIn().voided).toEqual([lost?.trackingNumber]);
        const [asked] = recovers();
        expect(asked?.path).toBe('/track/v1/referencenumbers');
        expect(asked?.headers['x-customer-transaction-id']).toBe(delivery.deliveryId);
        const query = JSON.parse(asked?.body ?? '{}') as { referencesInformation: Record<string, string> };
        expect(query.referencesInformation).toEqual(
          expect.objectContaining({ type: 'CUSTOMER_REFERENCE', value: lost?.reference, accountNumber: '740561073', shipDateBegin: '2026-02-28' }),
        );
        expect(query.referencesInformation.shipDateEnd).toBe(query.referencesInformation.shipDateEndDate);

        await transport.deliver(delivery);
        expect(h.standIn().sold).toHaveLength(2);
        expect([...h.standIn().liveLabelsByReference().values()].map((l) => l.length)).toEqual([1]);
        // Asked again later: the cancelled shipment is not cancelled twice, the live one is found.
        expect(await transport.recoverLabel!(delivery, since())).toEqual({ outcome: 'cancelled', trackingNumbers: [h.standIn().sold[1]?.trackingNumber] });
      });

      it('a cancellation FedEx refuses is thrown (the worker flags the label it then buys)', async () => {
        const transport = create();
        const delivery = payload();
        await transport.deliver(delivery);
        h.standIn().script('void', { status: 400, errors: [{ code: 'SHIPMENT.CANCEL.NOTALLOWED', message: 'The shipment was already tendered.' }] });
        const error = await failure(transport.recoverLabel!(delivery, since()));
        expect(error).toEqual(expect.objectContaining({ code: 'EREJECTED', permanent: true }));
      });
    }

    it('the carrier holds nothing under the reference: buy', async () => {
      const transport = create();
      expect(await transport.recoverLabel!(payload(), since())).toEqual({ outcome: 'none' });
      expect(recovers()).toHaveLength(1);
      expect(h.standIn().sold).toEqual([]);
    });

    it('a request queued without a reference cannot be asked about', async () => {
      const transport = create();
      // As a payload planned before labels carried references.
      const body = h.build(h.account).replace(carrier === 'ups' ? /,"ReferenceNumber":\[[^\]]*\]/ : /,"customerReferences":\[[^\]]*\]/, '');
      expect(body).not.toMatch(/ReferenceNumber|customerReferences/);
      expect(await transport.recoverLabel!(payload(body), since())).toEqual({ outcome: 'unasked', reason: expect.stringContaining('no') });
      expect(recovers()).toEqual([]);
    });

    it('a carrier that cannot answer (5xx, lost answer) is an error, not "none"', async () => {
      const transport = create();
      h.standIn().script('recover', { status: 503, errors: [{ code: 'SERVICE.UNAVAILABLE.ERROR', message: 'The service is currently unavailable.' }] }, { status: 200, lostAnswer: true });
      expect(await failure(transport.recoverLabel!(payload(), since()))).toEqual(expect.objectContaining({ code: 'EREMOTE', permanent: false }));
      expect(await failure(transport.recoverLabel!(payload(), since()))).toEqual(expect.objectContaining({ code: 'ECONNECTION', unsure: true }));
    });
  });

  describe('tokens shared through Redis', () => {
    let prefix: string;
    let cache: SharedCache;
    beforeEach(() => {
      prefix = `carrier-test-${randomUUID()}`;
      cache = redisSharedCache(redisClient, prefix);
    });

    it('two worker instances fetch one token between them for many concurrent deliveries', async () => {
      h.standIn().tokenDelayMs = 150;
      const a = create(block(), { cache });
      const b = create(block(), { cache });
      const receipts = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).deliver(payload())));
      expect(receipts.every((r) => h.tracking.test(r.response?.trackingNumber ?? ''))).toBe(true);
      expect(tokenRequests()).toHaveLength(1);
      expect(new Set(ships().map((s) => s.token))).toEqual(new Set([h.standIn().tokens[0]]));

      const keys = await redisClient.keys(`${prefix}:cache:oauth:${carrier}:*`);
      expect(keys).toHaveLength(1);
      const ttl = await redisClient.pttl(keys[0] ?? '');
      const lifetime = (carrier === 'ups' ? 14_399 : 3_600) * 1000;
      expect(ttl).toBeGreaterThan(lifetime - 60_000 - 5_000);
      expect(ttl).toBeLessThanOrEqual(lifetime - 60_000);
      // The client ID is hashed into the key, not written out.
      expect(keys[0]).not.toContain(h.standIn().clientId);
    });

    it('after the token expires early, the instances refresh it once between them', async () => {
      const a = create(block(), { cache });
      const b = create(block(), { cache });
      await Promise.all([a.deliver(payload()), b.deliver(payload())]);
      h.standIn().expireTokens();
      h.standIn().tokenDelayMs = 100;
      await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).deliver(payload())));
      expect(tokenRequests()).toHaveLength(2);
      expect(ships().filter((s) => s.status === 200)).toHaveLength(10);
    });
  });
});

describe('FedEx label by URL (labelResponseOptions: URL_ONLY)', () => {
  it('returns labelUrl instead of an inline label', async () => {
    const options = { accountNumber: '740561073', labelResponseOptions: 'URL_ONLY', baseUrl: fedex.url, caFile: fedex.caFile, clientIdEnv: 'ID', clientSecretEnv: 'SECRET' };
    const parsed = fedexOptionsSchema.parse(options);
    const transport = fedexTransport.create(parsed, { instanceId: 'fedex', configDir, env: { ID: fedex.clientId, SECRET: fedex.clientSecret } });
    open.push(transport);
    const body = fedexCarrier.build(domesticShipment('fedex', 'FEDEX_GROUND'), parsed).body;
    const receipt = await transport.deliver({ deliveryId: 'dlv-url-only', orderId: '1001', recipient: 'fedex', kind: 'carrier', format: 'fedex-ship', filename: 'x.json', contentType: 'application/json', body });
    expect(receipt.response?.label).toBeUndefined();
    expect(receipt.response?.labelUrl).toMatch(/^https:\/\/.*isLabel=true/);
    expect(receipt.response?.labelFormat).toBe('PDF');
  });
});

describe('UPS merchant id and API version', () => {
  it('sends merchantId as x-merchant-id with token requests and apiVersion in the ship path', async () => {
    const parsed = upsOptionsSchema.parse({ shipperNumber: 'A1B2C3', merchantId: 'A1B2C3', apiVersion: 'v2409', baseUrl: ups.url, caFile: ups.caFile, clientIdEnv: 'ID', clientSecretEnv: 'SECRET' });
    const transport = upsTransport.create(parsed, { instanceId: 'ups', configDir, env: { ID: ups.clientId, SECRET: ups.clientSecret } });
    open.push(transport);
    const body = upsCarrier.build(domesticShipment('ups', '03'), parsed).body;
    await transport.deliver({ deliveryId: 'dlv-merchant', orderId: '1001', recipient: 'ups', kind: 'carrier', format: 'ups-ship', filename: 'x.json', contentType: 'application/json', body });
    expect(ups.requestsTo('token')[0]?.headers['x-merchant-id']).toBe('A1B2C3');
    expect(ups.requestsTo('ship')[0]?.path).toBe('/api/shipments/v2409/ship');
  });
});

describe('carrier options: one store.yaml block feeds the builder and the client', () => {
  const client = {
    environment: 'production',
    baseUrl: 'https://proxy.example/ups',
    clientIdEnv: 'UPS_CLIENT_ID',
    clientSecretFile: '/run/secrets/ups_secret',
    caFile: 'certs/ca.pem',
    timeout: '10s',
  };

  it('accepts the client keys, applies no defaults for them, and the builders ignore them', () => {
    const upsParsed = upsOptionsSchema.parse({ shipperNumber: 'A1B2C3', ...client, apiVersion: 'v2409', merchantId: 'A1B2C3' });
    expect(upsParsed).toMatchObject({ ...client, timeout: 10_000, apiVersion: 'v2409', merchantId: 'A1B2C3' });
    expect(upsOptionsSchema.parse({ shipperNumber: 'A1B2C3' })).not.toHaveProperty('environment');
    const shipment = domesticShipment('ups', '03');
    expect(upsCarrier.build(shipment, upsParsed).body).toBe(upsCarrier.build(shipment, upsOptionsSchema.parse({ shipperNumber: 'A1B2C3' })).body);

    const fedexParsed = fedexOptionsSchema.parse({ accountNumber: '740561073', ...client });
    const fedexShipment = domesticShipment('fedex', 'FEDEX_GROUND');
    expect(fedexCarrier.build(fedexShipment, fedexParsed).body).toBe(fedexCarrier.build(fedexShipment, fedexOptionsSchema.parse({ accountNumber: '740561073' })).body);
    // The transport kinds validate the very same block (the factory parses the builder's output again).
    expect(upsTransport.optionsSchema.parse(upsParsed)).toEqual(upsParsed);
    expect(fedexTransport.optionsSchema.parse(fedexParsed)).toEqual(fedexParsed);
  });

  const messages = (input: Record<string, unknown>): string[] => {
    const result = upsOptionsSchema.safeParse({ shipperNumber: 'A1B2C3', ...input });
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  };

  it.each([
    [{ baseUrl: 'http://127.0.0.1:8080' }, ['baseUrl: must start with https:// (plain http is not allowed: every transfer is encrypted)']],
    [{ environment: 'sandbox' }, ['environment: must be test or production']],
    [{ clientIdEnv: 'my client id' }, ['clientIdEnv: must be the NAME of an environment variable (letters, digits, _), not its value']],
    [{ clientIdEnv: 'A', clientIdFile: 'b' }, ['clientIdFile: give clientIdEnv or clientIdFile, not both']],
    [{ timeout: 'soon' }, ['timeout: must be a positive duration such as "30s" or a number of milliseconds']],
    [{ apiVersion: 'latest' }, ['apiVersion: must be a UPS API version such as "v2409"']],
    [{ merchantId: '12345' }, ['merchantId: must be the 6-character UPS account number (letters and digits only)']],
  ])('rejects %p', (input, expected) => {
    expect(messages(input)).toEqual(expected);
  });

  it('reports every problem at once, cross-field checks included', () => {
    expect(messages({ weightUnit: 'G', clientSecretEnv: 'A', clientSecretFile: 'b', baseUrl: 'ftp://x' })).toHaveLength(3);
  });
});

describe('the stand-ins’ canned answers conform to the specs', () => {
  const upsRequest = JSON.parse(upsCarrier.build(domesticShipment('ups', '03'), upsOptionsSchema.parse({ shipperNumber: 'A1B2C3' })).body) as Record<string, unknown>;
  const fedexRequest = JSON.parse(
    fedexCarrier.build(domesticShipment('fedex', 'FEDEX_GROUND'), fedexOptionsSchema.parse({ accountNumber: '740561073' })).body,
  ) as Record<string, unknown>;

  it.each([
    ['ups 200', responseValidator('ups', 'ship', 200), upsShipResponse(upsRequest, 1)],
    ['ups 400', responseValidator('ups', 'ship', 400), errorBody('ups', [{ code: '120802', message: 'Address Validation Error' }])],
    ['ups 401', responseValidator('ups', 'ship', 401), errorBody('ups', [{ code: '250002', message: 'Invalid Authentication Information.' }])],
    ['ups token 401', responseValidator('ups', 'token', 401), errorBody('ups', [{ code: '10401', message: 'ClientId is Invalid' }])],
    ['fedex 200', responseValidator('fedex', 'ship', 200), fedexShipResponse(fedexRequest, 1, 'dlv-1')],
    ['fedex 200 URL_ONLY', responseValidator('fedex', 'ship', 200), fedexShipResponse({ ...fedexRequest, labelResponseOptions: 'URL_ONLY' }, 1, undefined)],
    ['fedex 400', responseValidator('fedex', 'ship', 400), errorBody('fedex', [{ code: 'SHIPMENT.VALIDATION.ERROR', message: 'x' }], 'dlv-1')],
    ['fedex token 401', responseValidator('fedex', 'token', 401), errorBody('fedex', [{ code: 'NOT.AUTHORIZED.ERROR', message: 'x' }])],
    ['ups void 400', responseValidator('ups', 'void', 400), errorBody('ups', [{ code: '190117', message: 'x' }])],
    ['fedex void 400', responseValidator('fedex', 'void', 400), errorBody('fedex', [{ code: 'TRACKING.TRACKINGNUMBER.NOTFOUND', message: 'x' }], 'dlv-1')],
  ])('%s', (_name, validate, body) => {
    expect(validate).toBeDefined();
    expect(validate?.(body)).toEqual([]);
  });

  it('the response validators catch a non-conforming answer', () => {
    const validate = responseValidator('ups', 'ship', 200);
    expect(validate?.({ ShipmentResponse: { Response: {}, ShipmentResults: { PackageResults: { TrackingNumber: 1 } } } }).length).toBeGreaterThan(0);
  });

  it('the void answers are checked too (the stand-ins’ own 200s are checked on every void above)', () => {
    expect(responseValidator('ups', 'void', 200)?.({ VoidShipmentResponse: { SummaryResult: { Status: { Code: '11' } } } }).length).toBeGreaterThan(0);
    expect(responseValidator('fedex', 'void', 200)?.({ output: { cancelledShipment: 'yes' } }).length).toBeGreaterThan(0);
  });
});
