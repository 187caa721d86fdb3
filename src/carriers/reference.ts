import { hash } from 'node:crypto';

/**
 * The reference a label purchase carries, by which the carrier can be asked later whether it
 * sold the label (UPS Label Recovery, FedEx Track by References). Shared by the request
 * builders, which put it in the shipment, and the API clients, which read it back from the
 * body they send; pure.
 *
 * It is derived from the delivery id that buys the label (`<shipmentId>+carrier`), which is
 * the same on every attempt, so every attempt and every later question names the same
 * reference. It is a digest rather than the id itself:
 *
 * - the delivery id holds the order id, and a carrier gets shipping information only
 *   (privacy promise 3): a digest says nothing about the order, and the ledger's list of what
 *   a carrier was sent stays ship-to, weight and service;
 * - it fits every carrier's limit whatever the order id's length: UPS `ReferenceNumber.Value`
 *   takes 35 characters, FedEx `CUSTOMER_REFERENCE` 30 (Ground; 40 for Express).
 *
 * Form: `DS` and the first 96 bits of the SHA-256 of the delivery id, one letter per 4 bits
 * (`A` for 0 … `P` for 15): 26 capital letters. Letters rather than hex digits, because hex
 * puts a run of 13 or more decimal digits passing the Luhn check in about one reference in
 * three hundred, and a body must hold nothing that looks like a card number (privacy
 * promise 1; the privacy property test found one). 96 bits: two deliveries sharing a
 * reference by chance is not a concern at any order volume.
 */
export const LABEL_REFERENCE_LENGTH = 26;

/** The reference of the label bought by `deliveryId` (the carrier delivery's id). */
export function labelReference(deliveryId: string): string {
  const digest = hash('sha256', deliveryId, 'buffer');
  let letters = '';
  for (const byte of digest.subarray(0, (LABEL_REFERENCE_LENGTH - 2) / 2)) letters += String.fromCharCode(65 + (byte >> 4), 65 + (byte & 15));
  return `DS${letters}`;
}

/** The id of the delivery that buys a shipment's label (see `planning/plan.ts`). */
export function carrierDeliveryId(shipmentId: string): string {
  return `${shipmentId}+carrier`;
}
