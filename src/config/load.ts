import { isUtf8 } from 'node:buffer';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { carrierById } from '../carriers';
import { checkAllowList } from '../core/policy';
import { DropshipError } from '../errors';
import { formatById, formatIds } from '../formats';
import { transportKind, transportKinds } from '../transports/registry';
import type { Config, StoreConfig, SupplierConfig } from './config';
import { confirmationFormatById } from '../formats/inbound';
import { StoreFileSchema, SupplierFileSchema } from './schema';

/** Problems found in one configuration, each as `file: path: what is wrong`. */
class Problems {
  readonly list: string[] = [];
  add(file: string, where: string, message: string): void {
    this.list.push(where ? `${file}: ${where}: ${message}` : `${file}: ${message}`);
  }
  addZod(file: string, error: z.ZodError, prefix = ''): void {
    for (const issue of error.issues) {
      this.add(file, joinPath(prefix, issue.path), issue.message);
    }
  }
}

function joinPath(prefix: string, parts: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const p of parts) {
    out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  }
  return out || '(top level)';
}

/** Paths of `__proto__` keys: schemas build records by assignment, where such a key silently becomes a prototype. */
function protoKeys(value: unknown, at: string, out: string[]): string[] {
  if (Array.isArray(value)) value.forEach((v, i) => protoKeys(v, `${at}[${i}]`, out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const where = at ? `${at}.${k}` : k;
      if (k === '__proto__') out.push(where);
      else protoKeys(v, where, out);
    }
  }
  return out;
}

function readYaml(dir: string, file: string, problems: Problems): unknown {
  const full = path.join(dir, file);
  let text: string;
  try {
    const bytes = readFileSync(full);
    if (!isUtf8(bytes)) {
      problems.add(file, '', 'is not valid UTF-8 (save it as UTF-8)');
      return undefined;
    }
    text = bytes.toString('utf8');
  } catch (err) {
    problems.add(file, '', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      problems.add(file, pos ? `line ${pos.line}, column ${pos.col}` : '', `YAML: ${e.message.split('\n')[0]}`);
    }
    return undefined;
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // e.g. "Excessive alias count indicates a resource exhaustion attack"
    problems.add(file, '', `YAML: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const proto = protoKeys(value, '', []);
  for (const where of proto) problems.add(file, where, '"__proto__" is not allowed as a key');
  return proto.length > 0 ? undefined : value;
}

function parseStore(raw: unknown, file: string, problems: Problems): StoreConfig | undefined {
  const parsed = StoreFileSchema.safeParse(raw);
  if (!parsed.success) {
    problems.addZod(file, parsed.error);
    return undefined;
  }
  const s = parsed.data;
  const carriers: StoreConfig['carriers'] = {};
  for (const [name, method] of Object.entries(s.shipping.methods)) {
    if (s.carriers[method.carrier] === undefined) {
      problems.add(file, `shipping.methods.${name}.carrier`, `uses ${method.carrier}, but carriers.${method.carrier} is not configured`);
    }
  }
  for (const id of ['ups', 'fedex'] as const) {
    if (s.carriers[id] === undefined) continue;
    const opts = carrierById(id).optionsSchema.safeParse(s.carriers[id]);
    if (opts.success) carriers[id] = opts.data;
    else problems.addZod(file, opts.error, `carriers.${id}`);
  }
  if (s.shipping.default !== undefined && !Object.hasOwn(s.shipping.methods, s.shipping.default)) {
    problems.add(file, 'shipping.default', `"${s.shipping.default}" is not one of shipping.methods`);
  }
  return {
    name: s.store.name,
    ...(s.store.platform === 'shopify' && s.store.shopify !== undefined ? { platform: { id: 'shopify' as const, options: s.store.shopify } } : {}),
    ...(s.store.platform === 'woocommerce' && s.store.woocommerce !== undefined ? { platform: { id: 'woocommerce' as const, options: s.store.woocommerce } } : {}),
    ...(s.warehouse ? { warehouse: { id: s.warehouse.id, address: s.warehouse.address } } : {}),
    shipping: {
      methods: s.shipping.methods,
      ...(s.shipping.default !== undefined ? { defaultMethod: s.shipping.default } : {}),
      defaultLineWeightGrams: s.shipping.defaultLineWeightGrams,
    },
    carriers,
    retention: { completedJobsMs: s.retention.completedJobs, dedupeMs: s.retention.dedupe, disclosuresMs: s.retention.disclosures },
    fulfil: {
      shopify: { financialStatuses: s.fulfil.shopify.financialStatuses },
      woocommerce: { statuses: s.fulfil.woocommerce.statuses },
      testOrders: s.fulfil.testOrders,
      skipSkus: s.fulfil.skipSkus,
    },
    api: {
      rateLimits: {
        orders: { max: s.api.rateLimits.orders.max, windowMs: s.api.rateLimits.orders.per },
        shopify: { max: s.api.rateLimits.shopify.max, windowMs: s.api.rateLimits.shopify.per },
        woocommerce: { max: s.api.rateLimits.woocommerce.max, windowMs: s.api.rateLimits.woocommerce.per },
        dashboard: { max: s.api.rateLimits.dashboard.max, windowMs: s.api.rateLimits.dashboard.per },
        suppliers: { max: s.api.rateLimits.suppliers.max, windowMs: s.api.rateLimits.suppliers.per },
      },
      trustProxy: s.api.trustProxy,
      webhookMaxAgeMs: s.api.webhookMaxAge,
    },
  };
}

function parseSupplier(dir: string, raw: unknown, file: string, problems: Problems): SupplierConfig | undefined {
  const parsed = SupplierFileSchema.safeParse(raw);
  if (!parsed.success) {
    problems.addZod(file, parsed.error);
    return undefined;
  }
  const s = parsed.data;
  const before = problems.list.length;
  const expectedId = path.basename(file).replace(/\.ya?ml$/, '');
  if (s.id !== expectedId) problems.add(file, 'id', `is "${s.id}" but the file is named ${expectedId}.yaml; they must match`);

  const policy = checkAllowList(s.fields);
  for (const p of policy.problems) problems.add(file, p.path, p.message);

  const format = formatById(s.format);
  let formatOptions: unknown;
  if (!format) {
    problems.add(file, 'format', `"${s.format}" is not a known format (known: ${formatIds().join(', ')})`);
  } else {
    const opts = format.optionsSchema.safeParse(s.formatOptions);
    if (opts.success) formatOptions = opts.data;
    else problems.addZod(file, opts.error, 'formatOptions');
    for (const f of format.requiredFields ?? []) {
      if (!s.fields.includes(f)) problems.add(file, 'fields', `must name "${f}": a ${format.id} purchase order is unusable without it`);
    }
  }

  const { transport, filename, cancelFilename, batchFilename, ...rest } = s.delivery;
  const kind = transportKind(transport);
  let options: unknown;
  if (!kind) {
    problems.add(file, 'delivery.transport', `"${transport}" is not a known transport (known: ${transportKinds().join(', ')})`);
  } else {
    const opts = kind.optionsSchema.safeParse(rest);
    if (opts.success) options = opts.data;
    else problems.addZod(file, opts.error, 'delivery');
    if (kind.requiresPgp && !s.pgp) {
      problems.add(file, 'pgp.publicKeyFile', `is required: ${transport} delivery is always PGP-encrypted`);
    }
  }
  const template = filename ?? `{orderId}-{supplierId}.${format?.fileExtension ?? 'txt'}`;
  // A cancellation must never overwrite the purchase order it cancels.
  const cancelTemplate = cancelFilename ?? defaultCancelFilename(template);
  for (const [key, value] of [['delivery.filename', template], ['delivery.cancelFilename', cancelTemplate]] as const) {
    const unknownPlaceholder = /\{(?!orderId\}|supplierId\}|shipmentId\}|ext\})[^}]*\}/.exec(value);
    if (unknownPlaceholder) {
      problems.add(file, key, `unknown placeholder ${unknownPlaceholder[0]} (known: {orderId} {supplierId} {shipmentId} {ext})`);
    } else if (/[/\\\p{Cc}]|^\.\.?$/u.test(value)) {
      problems.add(file, key, 'must be a plain file name, without "/", "\\" or control characters');
    }
  }
  if (cancelTemplate === template) problems.add(file, 'delivery.cancelFilename', 'must differ from delivery.filename, or a cancellation would overwrite its purchase order');
  const batchTemplate = batchFilename ?? `{batchId}.${format?.fileExtension ?? 'txt'}`;
  const unknownBatchPlaceholder = /\{(?!batchId\}|supplierId\}|ext\})[^}]*\}/.exec(batchTemplate);
  if (unknownBatchPlaceholder) {
    problems.add(file, 'delivery.batchFilename', `unknown placeholder ${unknownBatchPlaceholder[0]} (known: {batchId} {supplierId} {ext})`);
  } else if (/[/\\\p{Cc}]|^\.\.?$/u.test(batchTemplate)) {
    problems.add(file, 'delivery.batchFilename', 'must be a plain file name, without "/", "\\" or control characters');
  } else if (s.batch && !batchTemplate.includes('{batchId}')) {
    problems.add(file, 'delivery.batchFilename', 'must contain {batchId}, or one batch would overwrite the last');
  }
  if (s.batch && format && !format.renderBatch) {
    problems.add(file, 'batch', `the ${format.id} format carries one purchase order per document and cannot be batched`);
  }

  let pgpPublicKey: string | undefined;
  if (s.pgp) {
    const keyPath = path.resolve(dir, s.pgp.publicKeyFile);
    if (!existsSync(keyPath) || !statSync(keyPath).isFile()) {
      problems.add(file, 'pgp.publicKeyFile', `${s.pgp.publicKeyFile} does not exist`);
    } else {
      pgpPublicKey = readFileSync(keyPath, 'utf8');
      if (!pgpPublicKey.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) {
        problems.add(file, 'pgp.publicKeyFile', `${s.pgp.publicKeyFile} is not an armored PGP public key`);
      }
    }
  }
  const c = s.confirmations;
  if (c?.sftp && transport !== 'sftp') {
    problems.add(file, 'confirmations.sftp', `fetches files over the delivery's SFTP login, but delivery.transport is ${transport}`);
  }
  let csvOptions: unknown;
  if (c?.sftp?.format === 'csv' && c.csv === undefined) {
    problems.add(file, 'confirmations.csv', 'must name the columns of the CSV files the supplier sends (confirmations.csv.columns)');
  } else if (c?.csv !== undefined) {
    const parsedCsv = confirmationFormatById('csv')?.parseOptions?.(c.csv);
    if (parsedCsv?.ok === false) addOptionProblems(problems, file, 'confirmations.csv', parsedCsv.problems);
    else csvOptions = parsedCsv?.options;
  }
  // The X12 readers' options: only where the folder holds X12 (the API takes no X12), and then
  // always parsed (an absent block gives the defaults), as the pickup reads with them.
  let x12Options: unknown;
  const x12Format = c?.sftp && confirmationFormatById(c.sftp.format)?.optionsBlock === 'x12' ? c.sftp.format : undefined;
  if (c?.x12 !== undefined && x12Format === undefined) {
    problems.add(file, 'confirmations.x12', `applies only to X12 files picked up over SFTP (confirmations.sftp.format x12-856 or x12-855), but ${c.sftp ? `the format is ${c.sftp.format}` : 'there is no confirmations.sftp'}`);
  } else if (x12Format !== undefined) {
    const parsedX12 = confirmationFormatById(x12Format)?.parseOptions?.(c?.x12 ?? {});
    if (parsedX12?.ok === false) addOptionProblems(problems, file, 'confirmations.x12', parsedX12.problems);
    else x12Options = parsedX12?.options;
  }
  if (problems.list.length > before) return undefined;
  return {
    file,
    id: s.id,
    name: s.name,
    skus: s.skus,
    shipFrom: s.shipFrom,
    labels: s.labels,
    fields: policy.allowed,
    format: s.format,
    formatOptions,
    delivery: { transport, filename: template, cancelFilename: cancelTemplate, batchFilename: batchTemplate, options },
    ...(pgpPublicKey !== undefined && s.pgp
      ? { pgpPublicKey, pgpPublicKeyFile: path.resolve(dir, s.pgp.publicKeyFile) }
      : {}),
    retry: { attempts: s.retry.attempts, backoffMs: s.retry.backoff },
    ...(s.batch ? { batch: { everyMs: s.batch.every, maxOrders: s.batch.maxOrders } } : {}),
    ...(c
      ? {
          confirmations: {
            ...(c.https ? { https: { auth: { ...c.https.auth } } } : {}),
            ...(c.sftp ? { sftp: { remoteDir: c.sftp.remoteDir, everyMs: c.sftp.every, format: c.sftp.format } } : {}),
            ...(csvOptions !== undefined ? { csv: csvOptions } : {}),
            ...(x12Options !== undefined ? { x12: x12Options } : {}),
            expectWithinMs: c.expectWithin,
          },
        }
      : {}),
  };
}

/**
 * An inbound format's option problems, each `path: message` with its path inside the options
 * (`options` for the whole), added under `block` (`confirmations.csv.columns.sku: …`).
 */
function addOptionProblems(problems: Problems, file: string, block: string, list: readonly string[]): void {
  for (const p of list) {
    const at = p.indexOf(': ');
    // `skuQualifiers.1` is written as the rest of the configuration's paths are: `skuQualifiers[1]`.
    const where = at > 0 ? p.slice(0, at).replace(/\.(\d+)(?=\.|$)/g, '[$1]') : 'options';
    problems.add(file, where === 'options' ? block : `${block}.${where}`, at > 0 ? p.slice(at + 2) : p);
  }
}

/** `{orderId}-{supplierId}.csv` → `{orderId}-{supplierId}-cancel.csv`. */
export function defaultCancelFilename(template: string): string {
  const dot = template.lastIndexOf('.');
  return dot > 0 ? `${template.slice(0, dot)}-cancel${template.slice(dot)}` : `${template}-cancel`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Loads and validates `store.yaml` and every `suppliers/*.yaml` under `dir`, once, at
 * start-up. Throws one `DropshipError('ECONFIG')` listing every problem in every file;
 * the returned configuration is frozen.
 */
export function loadConfig(dir: string): Config {
  const problems = new Problems();
  const absDir = path.resolve(dir);
  if (!existsSync(absDir) || !statSync(absDir).isDirectory()) {
    throw new DropshipError('ECONFIG', [`${dir}: is not a directory`]);
  }
  const storeRaw = readYaml(absDir, 'store.yaml', problems);
  const store = storeRaw === undefined ? undefined : parseStore(storeRaw, 'store.yaml', problems);

  const suppliersDir = path.join(absDir, 'suppliers');
  const files = existsSync(suppliersDir)
    ? readdirSync(suppliersDir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => path.join('suppliers', f))
    : [];
  const suppliers: SupplierConfig[] = [];
  for (const file of files) {
    const raw = readYaml(absDir, file, problems);
    if (raw === undefined) continue;
    const supplier = parseSupplier(absDir, raw, file, problems);
    if (supplier) suppliers.push(supplier);
  }
  const seen = new Map<string, string>();
  for (const s of suppliers) {
    const other = seen.get(s.id);
    if (other) problems.add(s.file, 'id', `"${s.id}" is also the id in ${other}`);
    seen.set(s.id, s.file);
    if (store?.warehouse?.id === s.id) problems.add(s.file, 'id', `"${s.id}" is also the warehouse id in store.yaml`);
  }
  if (problems.list.length > 0 || !store) {
    throw new DropshipError('ECONFIG', problems.list, `The configuration in ${dir} is invalid`);
  }
  return deepFreeze({ dir: absDir, store, suppliers: suppliers.sort((a, b) => a.id.localeCompare(b.id)) });
}
