import {
  DeliveryError,
  type DeliveryErrorCode,
  type DeliveryPayload,
  type Transport,
  type TransportContext,
  type TransportKind,
} from '../../src/transports/transport';

/** What each transport's test file supplies so the one contract suite can run against it. */
export interface TransportHarness {
  kind: TransportKind;
  /** Options of a working receiver, as the supplier YAML would give them (without `transport`). */
  options(): Record<string, unknown>;
  context(): TransportContext;
  /** Bodies the receiver holds for this payload, decrypted where the transport encrypts. */
  received(payload: DeliveryPayload): Promise<string[]>;
  /** Makes the receiver fail transiently; resolves to a function that repairs it. */
  breakReceiver(): Promise<() => Promise<void>>;
  /** Options of a receiver that refuses for good, and the code that refusal must carry. */
  permanentFailure: { options(): Record<string, unknown>; code: DeliveryErrorCode };
  /** Options pointing at a closed port. */
  unreachableOptions(): Promise<Record<string, unknown>>;
  /** Secret values that must never appear in an error message. */
  secrets(): string[];
}

let sequence = 0;

/** A purchase-order payload with non-ASCII text and CRLF line ends, unique per call. */
export function makePayload(label: string, overrides: Partial<DeliveryPayload> = {}): DeliveryPayload {
  sequence += 1;
  const orderId = `${1000 + sequence}`;
  const deliveryId = `dlv-${label}-${process.pid}-${sequence}`;
  return {
    deliveryId,
    orderId,
    recipient: 'vermont-creamery',
    kind: 'dropship',
    format: 'csv',
    filename: `${orderId}-vermont-creamery-${label}-${sequence}.csv`,
    contentType: 'text/csv; charset=utf-8',
    body: `order_id,sku,name,quantity\r\n${orderId},VC-1,Crème fraîche 250 g,2\r\n${orderId},BUTTER-42,Cultured butter “salted”,1\r\n`,
    ...overrides,
  };
}

async function expectDeliveryError(promise: Promise<unknown>): Promise<DeliveryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

/** Asserts that no secret leaks through an error message. */
export function expectNoSecrets(error: Error, secrets: readonly string[]): void {
  for (const secret of secrets) {
    if (secret.length >= 4) expect(error.message).not.toContain(secret);
  }
}

/**
 * The contract every transport meets (after inngest-js's `testFramework()`): it validates its
 * own options strictly, delivers once, classifies failures for the retry decision, verifies
 * without sending, and closes.
 */
export function transportContract(name: string, harness: () => TransportHarness): void {
  describe(`${name} transport contract`, () => {
    const open: Transport[] = [];
    const create = (options: Record<string, unknown>): Transport => {
      const h = harness();
      const transport = h.kind.create(h.kind.optionsSchema.parse(options), h.context());
      open.push(transport);
      return transport;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((t) => t.close()));
    });

    it('has a strict options schema that names an unknown key', () => {
      const h = harness();
      expect(h.kind.kind).toBe(name);
      expect(h.kind.optionsSchema.safeParse(h.options()).success).toBe(true);
      const result = h.kind.optionsSchema.safeParse({ ...h.options(), colour: 'blue' });
      expect(result.success).toBe(false);
      expect(JSON.stringify(result.error?.issues)).toContain('colour');
    });

    it('delivers a payload once, byte for byte', async () => {
      const h = harness();
      const transport = create(h.options());
      expect(transport.kind).toBe(name);
      expect(transport.instanceId).toBe(h.context().instanceId);
      const payload = makePayload('once');
      const receipt = await transport.deliver(payload);
      expect(receipt.location).not.toBe('');
      expect(await h.received(payload)).toEqual([payload.body]);
    });

    it('delivers concurrent payloads each exactly once over its pooled connections', async () => {
      const h = harness();
      const transport = create(h.options());
      const payloads = Array.from({ length: 6 }, (_, i) => makePayload(`burst${i}`));
      await Promise.all(payloads.map((p) => transport.deliver(p)));
      for (const payload of payloads) expect(await h.received(payload)).toEqual([payload.body]);
    });

    it('reports a transient receiver failure as retryable, and the retry lands once', async () => {
      const h = harness();
      const transport = create(h.options());
      const payload = makePayload('retry');
      const repair = await h.breakReceiver();
      let error: DeliveryError;
      try {
        error = await expectDeliveryError(transport.deliver(payload));
      } finally {
        await repair();
      }
      expect(error.permanent).toBe(false);
      expectNoSecrets(error, h.secrets());
      await transport.deliver(payload);
      expect(await h.received(payload)).toEqual([payload.body]);
    });

    it('reports a refusal as permanent with its code', async () => {
      const h = harness();
      const transport = create(h.permanentFailure.options());
      const payload = makePayload('refused');
      const error = await expectDeliveryError(transport.deliver(payload));
      expect(error.permanent).toBe(true);
      expect(error.code).toBe(h.permanentFailure.code);
      expectNoSecrets(error, h.secrets());
      expect(await h.received(payload)).toEqual([]);
    });

    it('reports an unreachable receiver as retryable', async () => {
      const h = harness();
      const transport = create(await h.unreachableOptions());
      const error = await expectDeliveryError(transport.deliver(makePayload('unreachable')));
      expect(error.permanent).toBe(false);
      expect(['ECONNECTION', 'ETIMEDOUT']).toContain(error.code);
    });

    it('verifies a working receiver without delivering anything', async () => {
      const h = harness();
      const transport = create(h.options());
      const probe = makePayload('verify');
      await expect(transport.verify()).resolves.toBeUndefined();
      expect(await h.received(probe)).toEqual([]);
    });

    it('fails verify() for an unreachable receiver with a DeliveryError', async () => {
      const h = harness();
      const transport = create(await h.unreachableOptions());
      const error = await expectDeliveryError(transport.verify());
      expect(error.permanent).toBe(false);
    });

    it('closes idempotently and refuses deliveries afterwards', async () => {
      const h = harness();
      const transport = create(h.options());
      await transport.deliver(makePayload('before-close'));
      await transport.close();
      await transport.close();
      const error = await expectDeliveryError(transport.deliver(makePayload('after-close')));
      expect(error.permanent).toBe(false);
    });
  });
}
