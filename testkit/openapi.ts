import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { SPECS_DIR } from './specs';

/**
 * Request validation against the carriers' published OpenAPI 3.0 documents in
 * `specs/` (see specs/SOURCES.md), for unit tests and for the local carrier stand-in servers.
 *
 * Each document is added to one Ajv (draft-07) instance whole, under its own `$id`, so a
 * schema is compiled by JSON pointer into the document and every `#/components/schemas/...`
 * reference inside it resolves against the same document. Compiled validators are cached.
 */


/** Checks one value; returns one line per problem (`/json/pointer message`), empty when valid. */
export type RequestValidator = (data: unknown) => string[];

/** Options for {@link requestBodyValidator}. */
export interface RequestBodyValidatorOptions {
  /** Media type of the request body. @defaultValue `'application/json'` */
  contentType?: string;
  /**
   * Validate against this one component of a body schema that is a `oneOf` of `$ref`s.
   * FedEx's Create Shipment body is `oneOf` Full_Schema_Ship plus sample payload schemas
   * that declare no type and no required properties, so every payload matches several
   * branches and a strict `oneOf` rejects them all.
   */
  oneOfBranch?: string;
}

type JsonObject = Record<string, unknown>;

/** OpenAPI 3.0 keywords that are annotations, not assertions; declared so Ajv knows them. */
const OPENAPI_ANNOTATIONS = ['example', 'xml', 'externalDocs', 'discriminator'];

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addVocabulary(OPENAPI_ANNOTATIONS);

const loaded = new Map<string, { id: string; doc: JsonObject }>();

/** One correction applied to a vendored document as it is loaded (the file itself is never edited). */
export interface SpecPatch {
  /** JSON pointer of the schema it changes. */
  at: string;
  /** What is wrong in the published document, and the evidence, in a sentence. */
  why: string;
  apply(schema: JsonObject): void;
}

/** Accepts one item where the schema wants an array of them (a carrier's one-item answers). */
function arrayOrOne(schema: JsonObject, property: string): void {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const list = properties[property];
  if (!isObject(list) || list.type !== 'array' || !isObject(list.items)) throw new Error(`${property} is not an array of items`);
  properties[property] = { anyOf: [list, list.items] };
}

/** Lets a format code be 3 letters (GIF, PDF, ZPL, EPL, SPL) where the schema says exactly 4. */
function threeLetterCode(schema: JsonObject): void {
  const code = isObject(schema.properties) ? schema.properties.Code : undefined;
  if (!isObject(code) || code.minLength !== 4) throw new Error('Code is not a 4-character string');
  code.minLength = 3;
}

/**
 * Corrections of the vendored documents, applied in memory at load, each tested
 * (test/carriers/spec-patches.test.ts: the published schema refuses what the carrier
 * documents, the patched one accepts it, and nothing else changes). The files in specs/ stay
 * byte for byte as published (their sha256 is checked).
 */
export const SPEC_PATCHES: Readonly<Record<string, readonly SpecPatch[]>> = {
  'ups-Shipping.json': [
    {
      at: '#/components/schemas/LabelRecoveryRequest',
      why:
        '`required` names TrackingNumbers (and, in some published versions, is an object instead of an array), yet TrackingNumbers is described as "List of Roadie (1R) tracking numbers" and ReferenceValues as "mandatory for only Roadie shipments"; a recovery by TrackingNumber or by ReferenceValues alone is what the descriptions allow',
      apply: (schema) => {
        const required = Array.isArray(schema.required) ? schema.required : isObject(schema.required) ? Object.keys(schema.required) : [];
        const kept = required.filter((name) => name !== 'TrackingNumbers' && name !== 'ReferenceValues');
        if (!kept.includes('Request')) throw new Error('LabelRecoveryRequest no longer requires Request');
        schema.required = kept;
        // One of the three ways to name the label, as the descriptions say.
        schema.anyOf = [{ required: ['TrackingNumber'] }, { required: ['MailInnovationsTrackingNumber'] }, { required: ['ReferenceValues'] }];
      },
    },
    {
      at: '#/components/schemas/LabelRecovery_LabelSpecification_LabelImageFormat',
      why: 'Code has minLength and maxLength 4, yet its valid values are GIF, PDF, ZPL, EPL and SPL (3 letters)',
      apply: threeLetterCode,
    },
    {
      at: '#/components/schemas/LabelImage_LabelImageFormat',
      why: 'Code (in a Label Recovery answer) has minLength and maxLength 4, yet it is "GIF or PDF"',
      apply: threeLetterCode,
    },
    {
      at: '#/components/schemas/LabelRecoveryResponse',
      why: 'LabelResults is an array in the schema, but UPS answers one package\'s results as a single object (its own documented examples; the same holds for ShipmentResults.PackageResults before v2403)',
      apply: (schema) => arrayOrOne(schema, 'LabelResults'),
    },
  ],
};

function resolveOwn(doc: JsonObject, pointer: string): JsonObject {
  let node: unknown = doc;
  for (const raw of pointer.replace(/^#\/?/, '').split('/')) node = isObject(node) ? node[raw.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  if (!isObject(node)) throw new Error(`no schema at ${pointer}`);
  return node;
}
const compiled = new Map<string, ValidateFunction>();

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every `format` value used anywhere in the document. */
function formatsUsed(node: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) formatsUsed(item, into);
  } else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'format' && typeof value === 'string') into.add(value);
      else formatsUsed(value, into);
    }
  }
  return into;
}

/** Loads and registers an OpenAPI document (a JSON file name in {@link SPECS_DIR}) once. */
export function loadSpec(specFile: string): { id: string; doc: JsonObject } {
  const cached = loaded.get(specFile);
  if (cached) return cached;
  const parsed: unknown = JSON.parse(readFileSync(path.join(SPECS_DIR, specFile), 'utf8'));
  if (!isObject(parsed) || typeof parsed.openapi !== 'string' || !parsed.openapi.startsWith('3.0')) {
    throw new Error(`${specFile} is not an OpenAPI 3.0 document`);
  }
  for (const patch of SPEC_PATCHES[specFile] ?? []) {
    try {
      patch.apply(resolveOwn(parsed, patch.at));
    } catch (error) {
      throw new Error(`${specFile}: the patch of ${patch.at} no longer applies (${(error as Error).message}); check the document again`, { cause: error });
    }
  }
  // Vendor formats ajv-formats does not know are documentation only: accept any value.
  for (const format of formatsUsed(parsed)) {
    if (!(format in ajv.formats)) ajv.addFormat(format, true);
  }
  const id = `https://specs.invalid/${encodeURIComponent(specFile)}`;
  // The document itself is not a JSON Schema (paths, info...), so skip meta-validation.
  ajv.addSchema(parsed, id, undefined, false);
  const entry = { id, doc: parsed };
  loaded.set(specFile, entry);
  return entry;
}

function pointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function resolvePointer(doc: JsonObject, pointer: string): unknown {
  let node: unknown = doc;
  for (const raw of pointer.replace(/^#\/?/, '').split('/')) {
    if (raw === '') continue;
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[segment] : undefined;
  }
  return node;
}

function formatErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const where = e.instancePath === '' ? '/' : e.instancePath;
    const detail =
      e.keyword === 'additionalProperties' || e.keyword === 'enum' ? ` ${JSON.stringify(e.params)}` : '';
    return `${where} ${e.message ?? e.keyword}${detail}`;
  });
}

function validatorAt(specFile: string, pointer: string): RequestValidator {
  const { id } = loadSpec(specFile);
  const key = `${id}${pointer}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile({ $ref: key });
    compiled.set(key, validate);
  }
  const check = validate;
  return (data) => (check(data) ? [] : formatErrors(check.errors));
}

/**
 * A validator for the request body of one operation, e.g.
 * `requestBodyValidator('ups-Shipping.json', 'post', '/shipments/{version}/ship')`.
 * Follows a `$ref` to `#/components/requestBodies/...`.
 */
export function requestBodyValidator(
  specFile: string,
  method: string,
  pathTemplate: string,
  options: RequestBodyValidatorOptions = {},
): RequestValidator {
  const { doc } = loadSpec(specFile);
  const contentType = options.contentType ?? 'application/json';
  let bodyPointer = `#/paths/${pointerSegment(pathTemplate)}/${method.toLowerCase()}/requestBody`;
  let body = resolvePointer(doc, bodyPointer);
  if (isObject(body) && typeof body.$ref === 'string') {
    bodyPointer = body.$ref;
    body = resolvePointer(doc, bodyPointer);
  }
  const content = isObject(body) ? body.content : undefined;
  if (!isObject(content) || !isObject(content[contentType])) {
    throw new Error(`${specFile}: no ${contentType} request body for ${method.toUpperCase()} ${pathTemplate}`);
  }
  const schemaPointer = `${bodyPointer}/content/${pointerSegment(contentType)}/schema`;
  if (options.oneOfBranch === undefined) return validatorAt(specFile, schemaPointer);

  const schema = resolvePointer(doc, schemaPointer);
  const branches = isObject(schema) && Array.isArray(schema.oneOf) ? schema.oneOf : [];
  const wanted = `#/components/schemas/${options.oneOfBranch}`;
  if (!branches.some((b) => isObject(b) && b.$ref === wanted)) {
    throw new Error(`${specFile}: ${method.toUpperCase()} ${pathTemplate} has no oneOf branch ${options.oneOfBranch}`);
  }
  return validatorAt(specFile, wanted);
}

/** A validator for one named schema under `#/components/schemas`. */
export function componentValidator(specFile: string, name: string): RequestValidator {
  const { doc } = loadSpec(specFile);
  const pointer = `#/components/schemas/${pointerSegment(name)}`;
  if (resolvePointer(doc, pointer) === undefined) {
    throw new Error(`${specFile}: no component schema ${name}`);
  }
  return validatorAt(specFile, pointer);
}
