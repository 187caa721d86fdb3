import type { Config } from '../../src/config/config';
import { buildApi } from '../../src/api/server';
import { Queue } from 'bullmq';
import { DeliveryError } from '../../src/transports/transport';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness, TEST_CIPHER } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * Personal data at rest: after a realistic run (labels bought and attached, a batch left open,
 * a purchase order failed and kept for replay), a dump of Redis holds ids and ciphertext, and
 * none of the names, addresses, contact data or label images the run carried. The receivers
 * did get them: the data is sealed, not missing.
 */
const PERSON = {
  name: 'Zenobia Quillfeather',
  company: 'Quillfeather Provisions',
  line1: '77 Marigold Lane',
  line2: 'Suite Wren',
  city: 'Bramblewick',
  email: 'zenobia.q@example.net',
  giftMessage: 'Happy solstice, Wren!',
  notes: 'Ring the brass bell',
  engraving: 'For Marguerite',
};
const LABEL_TEXT = `SHIP TO ${PERSON.name} ${PERSON.line1}`;
const LABEL = Buffer.from(LABEL_TEXT).toString('base64');

function personalOrder(id: string) {
  const base = orderPayload({ id });
  return {
    ...base,
    giftMessage: PERSON.giftMessage,
    notes: PERSON.notes,
    customer: { name: PERSON.name, email: PERSON.email, phone: '+1 503 555 0123', contactRestricted: false },
    shipTo: { ...base.shipTo!, name: PERSON.name, company: PERSON.company, line1: PERSON.line1, line2: PERSON.line2, city: PERSON.city },
    lines: base.lines!.map((l) => (l.sku === 'OLV-EVOO' ? { ...l, properties: { Engraving: PERSON.engraving } } : l)),
  };
}

/** oliveco takes batches of two (one order stays in the open batch); creamery's labels are bought by us. */
function config(): Config {
  const base = fixtureConfig();
  return { ...base, suppliers: base.suppliers.map((s) => (s.id === 'oliveco' ? { ...s, batch: { everyMs: 3_600_000, maxOrders: 2 } } : s)) };
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await redis.stop();
});

describe('personal data at rest in Redis', () => {
  it('is ciphertext in a dump of Redis after a realistic run, and only the data key opens it', async () => {
    const h = await PipelineHarness.start(config(), redis.url, { prefix: 'rest' });
    try {
      h.recorder('ups').respond = (p) => ({ carrier: 'ups', trackingNumber: `1Z${p.deliveryId.replace(/\W/g, '').toUpperCase()}`, label: LABEL });
      h.recorder('creamery').then(DeliveryError.permanent('EREJECTED', 'HTTP 400 from the creamery'));
      for (const id of ['R1', 'R2', 'R3']) expect((await h.postOrder(personalOrder(id))).statusCode).toBe(202);
      // 3 orders × 2 labels; creamery: 2 delivered + 1 failed; oliveco: one batch of 2 sent, 1 order waiting.
      await waitFor('labels, purchase orders and one batch', () => h.recorder('ups').delivered.length === 6 && h.recorder('creamery').delivered.length === 2 && h.recorder('oliveco').delivered.length === 1);
      const po = new Queue('po-creamery', { connection: h.pipeline.redis, prefix: 'rest' });
      try {
        await waitFor('the rejected purchase order kept as failed', async () => (await po.getFailedCount()) === 1);
      } finally {
        await po.close();
      }

      // The receivers got the person's data, and the creamery its label.
      const received = h.delivered().map((d) => d.body).join('\n');
      for (const value of [PERSON.name, PERSON.line1, PERSON.city]) expect(received).toContain(value);
      expect(h.recorder('creamery').delivered.some((d) => d.body.includes('1Z'))).toBe(true);

      const dump = (await redis.dump()).join('\n');
      expect(dump).toContain('R3+oliveco+po'); // the scan sees the run's jobs and the open batch
      expect(dump).toMatch(/:batch:oliveco:open/);
      expect(dump).toMatch(/dsk1\.[0-9a-f]{8}\./);
      for (const [what, value] of Object.entries({ ...PERSON, label: LABEL, labelText: LABEL_TEXT })) {
        expect([what, dump.includes(value)]).toEqual([what, false]);
      }

      // The dashboard shows the same ciphertext; unmasked (with the key) it shows the ship-to.
      // (These orders simply ship: the intake planned them, so their jobs are the deliveries.)
      const dashboard = (unmask: boolean) =>
        buildApi({ ready: async () => undefined, dashboard: { queues: [new Queue('carrier-ups', { connection: h.pipeline.redis, prefix: 'rest' })], auth: { token: 'operator-token-1234' }, unmask, cipher: TEST_CIPHER } });
      const authorization = `Basic ${Buffer.from('ops:operator-token-1234').toString('base64')}`;
      const url = '/admin/queues/api/queues?activeQueue=carrier-ups&status=completed&page=1';
      const masked = dashboard(false);
      const unmasked = dashboard(true);
      try {
        const shown = (await masked.inject({ url, headers: { authorization } })).body;
        expect(shown).toContain('R1');
        expect(shown).toMatch(/dsk1\.[0-9a-f]{8}\./);
        expect(shown).not.toContain(PERSON.name);
        const opened = (await unmasked.inject({ url, headers: { authorization } })).body;
        expect(opened).toContain(PERSON.name);
        expect(opened).toContain(PERSON.line1);
      } finally {
        await masked.close();
        await unmasked.close();
      }
    } finally {
      await h.stop();
    }
  });
});
