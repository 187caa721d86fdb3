import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Checks a base64 HMAC-SHA256 of the raw body, as Shopify (`X-Shopify-Hmac-Sha256`) and
 * WooCommerce (`X-WC-Webhook-Signature`) send it. Constant-time comparison.
 */
export function validBase64Hmac(secret: string, rawBody: Buffer, signature: string | undefined): boolean {
  if (!signature) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(signature.trim(), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Checks a Standard Webhooks request (`webhook-id`, `webhook-timestamp`, `webhook-signature`):
 * any `v1,` signature in the header over `id.timestamp.body` with the secret (a `whsec_` secret
 * is base64-decoded first), sent within `toleranceS` of now. Constant-time comparison.
 */
export function validStandardWebhook(
  secret: string,
  headers: { id?: string; timestamp?: string; signature?: string },
  rawBody: Buffer,
  nowMs: number,
  toleranceS = 300,
): boolean {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceS) return false;
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(rawBody).digest();
  return signature.split(' ').some((part) => {
    if (!part.startsWith('v1,')) return false;
    const given = Buffer.from(part.slice(3), 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
