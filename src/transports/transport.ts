import type { z } from 'zod';

/** What a transport carries: one payload for one recipient, exactly as built by the core. */
export interface DeliveryPayload {
  /** Deterministic id of the delivery; the same event never yields two. */
  deliveryId: string;
  orderId: string;
  /** Supplier id, or the carrier id for carrier requests. */
  recipient: string;
  kind: 'carrier' | 'dropship';
  /** Format id (`csv`, `json`, `ups-ship`, ...). */
  format: string;
  /** File name for file-like transports (already rendered from the supplier's template). */
  filename: string;
  contentType: string;
  /** The exact payload before any encryption. */
  body: string;
  /** A purchase order (or carrier request), or the cancellation of one. @defaultValue "order" */
  purpose?: 'order' | 'cancellation';
  /**
   * Secrets the body carries (added at send time, such as cXML's shared secret). A receiver
   * may say them back; a transport never repeats them in an error or a receipt.
   */
  secrets?: readonly string[];
}

/**
 * `text` with every one of `secrets` replaced by `[redacted]`, longest first (a secret inside
 * another goes with it). Values shorter than `minLength` are left: taking them out would
 * garble the text without hiding anything.
 */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined>, minLength = 1): string {
  const values = secrets.filter((s): s is string => s !== undefined && s.length >= minLength).sort((a, b) => b.length - a.length);
  return values.reduce((t, secret) => t.split(secret).join('[redacted]'), text);
}

/** A bought label to void because its order was cancelled. */
export interface LabelVoid {
  /** Delivery id of the void itself (the label's delivery id + `-void`). */
  deliveryId: string;
  orderId: string;
  shipmentId: string;
  /** The carrier id (`ups`, `fedex`). */
  recipient: string;
  /** Delivery id of the label purchase being undone. */
  labelDeliveryId: string;
  trackingNumber: string;
  /** UPS's shipment identification number, when it differs from the tracking number. */
  shipmentNumber?: string;
}

/** What a transport reports after the receiver has the payload. */
export interface DeliveryReceipt {
  /** Where it landed, in the transport's words (remote path, message id, URL + status). */
  location: string;
  /** Anything the receiver answered that later steps need (e.g. tracking numbers). */
  response?: Record<string, string>;
}

/**
 * What a carrier said when asked, before a label is bought again after an attempt whose answer
 * was lost, whether it sold a label under the delivery's reference:
 * - `recovered`: it did, and gave it back (tracking number, label): use it, buy nothing;
 * - `none`: it holds no label under the reference: buy;
 * - `cancelled`: it held shipments whose labels it cannot give back, and cancelled them: buy;
 * - `unasked`: the carrier could not be asked (the payload carries no reference, e.g. it was
 *   queued before references were sent): buy, and flag the label for an operator.
 * A carrier that cannot answer (timeout, 5xx, refusal) throws a `DeliveryError` instead.
 */
export type LabelRecovery =
  | { outcome: 'recovered'; receipt: DeliveryReceipt }
  | { outcome: 'none' }
  | { outcome: 'cancelled'; trackingNumbers: string[] }
  | { outcome: 'unasked'; reason: string };

/** Context every transport instance gets: its supplier, and where to find files and secrets. */
export interface TransportContext {
  /** The supplier (or carrier) this instance serves: one class, many instances. */
  instanceId: string;
  /** Directory relative file paths in config resolve against. */
  configDir: string;
  env: NodeJS.ProcessEnv;
  /** Armored public key to encrypt to, when the supplier config names `pgp.publicKeyFile`. */
  pgpPublicKey?: string;
  /** State shared by every worker process (e.g. OAuth tokens); Redis-backed in the pipeline. */
  cache?: SharedCache;
}

/** A small key-value store shared by all worker processes. Values must not be personal data. */
export interface SharedCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets only when absent; true when this caller set it (a lock for one-at-a-time refreshes). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Deletes the key only while it still holds `value`, atomically: a lock's holder releasing
   * it never releases a lock that expired and was taken by someone else meanwhile.
   */
  deleteIf(key: string, value: string): Promise<void>;
}

/**
 * A way to hand a payload to a receiver (after nodemailer's transports): `deliver`, plus
 * `verify` to check reachability and credentials without sending, and `close`.
 * Failures are thrown as `DeliveryError`s so the worker can decide on retries.
 */
export interface Transport {
  readonly kind: string;
  readonly instanceId: string;
  deliver(payload: DeliveryPayload, signal?: AbortSignal): Promise<DeliveryReceipt>;
  /**
   * Carrier transports only: voids a label bought earlier (the order was cancelled). A
   * label the carrier will no longer void (already used) is a permanent `EREJECTED`.
   */
  voidLabel?(label: LabelVoid, signal?: AbortSignal): Promise<DeliveryReceipt>;
  /**
   * Carrier transports only: asks the carrier whether it sold a label for `payload` (a label
   * purchase whose earlier attempt, started at `since`, ended without an answer), by the
   * reference the payload carries. Buys nothing. Throws a `DeliveryError` when the carrier
   * cannot answer.
   */
  recoverLabel?(payload: DeliveryPayload, since: Date, signal?: AbortSignal): Promise<LabelRecovery>;
  verify(): Promise<void>;
  close(): Promise<void>;
}

/** A kind of transport: validates its own options and makes instances. Registers in `transports/registry.ts`. */
export interface TransportKind<Options = unknown> {
  readonly kind: string;
  /** Validates a supplier's `delivery` block (without `transport`). */
  readonly optionsSchema: z.ZodType<Options>;
  /** Whether this kind requires the supplier to have a `pgp.publicKeyFile` (email does). */
  readonly requiresPgp?: boolean;
  create(options: Options, context: TransportContext): Transport;
}

// The delivery failure class lives with the error catalogue; transports import it from here.
export { DeliveryError, type DeliveryErrorCode } from '../errors';
