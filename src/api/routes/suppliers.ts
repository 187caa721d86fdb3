import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { SupplierConfig } from '../../config/config';
import { AcknowledgementInput, type Confirmation, type ConfirmationOrigin, ShipmentConfirmationInput } from '../../core/confirmation';
import { DropshipError } from '../../errors';
import { cxmlConfirmationFormat, cxmlResponse } from '../../formats/inbound/cxml';
import type { ConfirmOutcome } from '../../loop/confirm';
import { parseJsonBody, zodProblems } from '../../sources/ingest';
import { header, type RouteLimits, sendError } from '../access';
import { validStandardWebhook } from '../signature';

/** What a supplier's confirmation is handed to, and how a cXML document is read and answered. */
export interface SupplierRoutesOptions {
  suppliers: readonly SupplierConfig[];
  env: NodeJS.ProcessEnv;
  limited: RouteLimits;
  confirm: (supplierId: string, confirmation: Confirmation, origin: ConfirmationOrigin & { controlNumber?: number }) => Promise<ConfirmOutcome>;
  now?: () => number;
}

/** The same answer whether the order is unknown or another supplier's: nothing is learned from it. */
const NOT_SENT = 'No purchase order of yours for this order was sent';

function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Where suppliers tell us what they did with our purchase orders (docs/api.md):
 * `POST /suppliers/:id/shipments`, `POST /suppliers/:id/acknowledgements` (JSON) and
 * `POST /suppliers/:id/cxml` (cXML `ShipNoticeRequest` / `ConfirmationRequest`). Each supplier
 * authenticates with its own secret (`confirmations.https.auth`: a Standard Webhooks HMAC or a
 * bearer token) and can confirm only purchase orders it was sent. 202 recorded (also for the
 * same confirmation again), 400 every problem, 401, 404 not sent to it, 409 contradicts.
 */
export const supplierRoutes: FastifyPluginAsync<SupplierRoutesOptions> = async (app, options) => {
  const { env, limited } = options;
  const bySupplier = new Map(options.suppliers.filter((s) => s.confirmations?.https).map((s) => [s.id, s]));
  const now = options.now ?? Date.now;

  // cXML arrives as text/xml (or application/xml), on its own route only.
  app.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'buffer' }, (req, body, done) =>
    /^\/suppliers\/[^/]+\/cxml$/.test(req.url.split('?')[0] ?? '') ? done(null, body) : done(Object.assign(new Error('xml body'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 })),
  );

  /** The supplier the request authenticates as, or the refusal sent. */
  const authenticate = (request: FastifyRequest<{ Params: { id: string }; Body: Buffer }>, reply: FastifyReply): SupplierConfig | undefined => {
    const supplier = bySupplier.get(request.params.id);
    const auth = supplier?.confirmations?.https?.auth;
    const refuse = () => {
      sendError(reply, new DropshipError('EUNAUTHORIZED', [], 'A valid signature or bearer token for this supplier is required'));
      return undefined;
    };
    if (!supplier || !auth) return refuse();
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (auth.bearerTokenEnv !== undefined) {
      const token = env[auth.bearerTokenEnv];
      return token && bearerMatches(header(request, 'authorization'), token) ? supplier : refuse();
    }
    const secret = auth.hmacSecretEnv !== undefined ? env[auth.hmacSecretEnv] : undefined;
    const signed = { id: header(request, 'webhook-id'), timestamp: header(request, 'webhook-timestamp'), signature: header(request, 'webhook-signature') };
    return secret && validStandardWebhook(secret, signed, body, now()) ? supplier : refuse();
  };

  const answer = (reply: FastifyReply, outcome: ConfirmOutcome) => {
    if (outcome.status === 'not-found') return sendError(reply, new DropshipError('ENOT_FOUND', [], NOT_SENT));
    if (outcome.status === 'conflict') return sendError(reply, new DropshipError('ECONFIRMATION_CONFLICT', outcome.problems));
    return reply.code(202).send({ status: 'recorded', event: outcome.n, duplicate: outcome.duplicate });
  };

  const json = (kind: 'shipment' | 'acknowledgement') => async (request: FastifyRequest<{ Params: { id: string }; Body: Buffer }>, reply: FastifyReply) => {
    const supplier = authenticate(request, reply);
    if (!supplier) return reply;
    const parsed = (kind === 'shipment' ? ShipmentConfirmationInput : AcknowledgementInput).safeParse(parseJsonBody(request.body));
    if (!parsed.success) throw new DropshipError('EINVALID_CONFIRMATION', zodProblems(parsed.error, 'confirmation'));
    const confirmation = { kind, ...parsed.data } as Confirmation;
    return answer(reply, await options.confirm(supplier.id, confirmation, { channel: 'api' }));
  };

  app.post('/suppliers/:id/shipments', limited('suppliers'), json('shipment'));
  app.post('/suppliers/:id/acknowledgements', limited('suppliers'), json('acknowledgement'));

  // A cXML request is answered with a cXML Response whose Status carries the HTTP code.
  app.post('/suppliers/:id/cxml', limited('suppliers'), async (request: FastifyRequest<{ Params: { id: string }; Body: Buffer }>, reply) => {
    const xml = (code: 200 | 400 | 404 | 409, detail?: string) =>
      reply
        .code(code)
        .type('text/xml; charset=utf-8')
        .send(cxmlResponse(code, { payloadId: `${randomUUID()}@dropship`, timestamp: new Date(now()).toISOString() }, detail));
    const supplier = authenticate(request, reply);
    if (!supplier) return reply;
    let document;
    try {
      document = cxmlConfirmationFormat.read(request.body.toString('utf8'), undefined);
    } catch (err) {
      if (err instanceof DropshipError) return xml(400, [err.message.split('\n')[0], ...err.problems].join('; '));
      throw err;
    }
    const problems: string[] = [];
    let notFound = 0;
    for (const { confirmation, reference } of document.confirmations) {
      const outcome = await options.confirm(supplier.id, confirmation, { channel: 'cxml', ...(reference ? { reference } : {}) });
      if (outcome.status === 'not-found') notFound++;
      if (outcome.status === 'conflict') problems.push(...outcome.problems);
    }
    if (notFound > 0) return xml(404, NOT_SENT);
    if (problems.length > 0) return xml(409, problems.join('; '));
    return xml(200);
  });
};
