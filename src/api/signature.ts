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
