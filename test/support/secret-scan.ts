import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';

/**
 * Finding secrets in what a run produced: each secret is a distinctive generated value, and
 * it is looked for as written and in the encodings a bug would plausibly leak it in.
 */

/** A secret the product was given, by the name the test knows it under. */
export interface Secret {
  name: string;
  value: string;
}

/** One place the product wrote to, and what it holds there as text. */
export interface Output {
  where: string;
  text: string;
}

/** A secret found in an output, with the form it was found in. */
export interface Leak {
  secret: string;
  form: string;
  where: string;
  excerpt: string;
}

/** A distinctive value: `sek<label><32 hex digits>`, found in no text by chance. */
export function generatedSecret(label: string): string {
  return `sek${label.replace(/[^A-Za-z0-9]/g, '')}${randomBytes(16).toString('hex')}`;
}

/**
 * The base64 of `value` as it reads inside a longer base64 text, for each of the three
 * alignments it could start at: the characters that depend on the value's bytes only.
 */
function base64Inside(value: Buffer): string[] {
  const forms: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), value]).toString('base64');
    // Drop the group shared with the bytes before, and the last group (shared with those after).
    const inner = encoded.slice(offset === 0 ? 0 : 4, Math.floor(encoded.length / 4) * 4 - 4);
    if (inner.length >= 16) forms.push(inner);
  }
  return forms;
}

/**
 * The forms a secret is looked for in: as written, JSON-escaped, URL-encoded, hex, and
 * base64 / base64url at any alignment (as inside `Basic` credentials or SMTP `AUTH PLAIN`).
 * A key or other multi-line secret is looked for by each line of its body (32 characters
 * or more), which is what survives re-wrapping, escaping or cutting.
 */
export function secretForms(value: string): Map<string, string> {
  const forms = new Map<string, string>();
  const lines = value.split(/\r?\n/).map((l) => l.trim());
  const pieces = lines.length > 1 ? lines.filter((l) => l.length >= 32 && !l.startsWith('-----') && !l.includes(':')) : [value];
  if (pieces.length === 0) throw new Error('a multi-line secret needs at least one body line of 32 characters or more');
  for (const [i, piece] of pieces.entries()) {
    const tag = pieces.length > 1 ? ` line ${i + 1}` : '';
    const bytes = Buffer.from(piece, 'utf8');
    forms.set(`raw${tag}`, piece);
    forms.set(`json-escaped${tag}`, JSON.stringify(piece).slice(1, -1));
    forms.set(`url-encoded${tag}`, encodeURIComponent(piece));
    forms.set(`hex${tag}`, bytes.toString('hex'));
    forms.set(`HEX${tag}`, bytes.toString('hex').toUpperCase());
    for (const [j, b64] of base64Inside(bytes).entries()) {
      forms.set(`base64 (alignment ${j})${tag}`, b64);
      forms.set(`base64url (alignment ${j})${tag}`, b64.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return forms;
}

/** Every occurrence of every secret, in any of its forms, in any of the outputs. */
export function findLeaks(secrets: readonly Secret[], outputs: readonly Output[]): Leak[] {
  const leaks: Leak[] = [];
  for (const secret of secrets) {
    const forms = secretForms(secret.value);
    for (const output of outputs) {
      for (const [form, needle] of forms) {
        const at = output.text.indexOf(needle);
        if (at < 0) continue;
        leaks.push({ secret: secret.name, form, where: output.where, excerpt: output.text.slice(Math.max(0, at - 80), at + needle.length + 40) });
        break;
      }
    }
  }
  return leaks;
}

/**
 * Everything in a Redis database as text, one output per key: its name, type, TTL and
 * value read by type (strings, hashes, lists, sets, sorted sets with scores, streams with
 * every entry's fields), walked with SCAN.
 */
export async function redisOutputs(redis: Redis): Promise<Output[]> {
  const outputs: Output[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.get(key);
      else if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'list') value = await redis.lrange(key, '0', '-1');
      else if (type === 'set') value = await redis.smembers(key);
      else if (type === 'zset') value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      else if (type === 'stream') value = await redis.xrange(key, '-', '+');
      else if (type === 'none') continue;
      else throw new Error(`key ${key} has type ${type}, which this scan cannot read`);
      outputs.push({ where: `redis ${type} ${key}`, text: `${key}\n${JSON.stringify(value)}` });
    }
  } while (cursor !== '0');
  return outputs;
}

/** Every regular file under `dir` (recursively), except under the `skip` folders. */
export function fileOutputs(dir: string, skip: readonly string[] = []): Output[] {
  const outputs: Output[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (skip.some((s) => path.resolve(s) === path.resolve(full))) continue;
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && statSync(full).size < 64 * 1024 * 1024) outputs.push({ where: `file ${full}`, text: readFileSync(full).toString('latin1') });
    }
  };
  walk(dir);
  return outputs;
}
