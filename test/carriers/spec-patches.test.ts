import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SPECS_DIR } from '../../testkit/specs';
import { componentValidator, requestBodyValidator, SPEC_PATCHES } from '../../testkit/openapi';

/**
 * The corrections testkit/openapi.ts makes to vendored documents as it loads them: each
 * fixes a defect that is really in the published file (checked here on the file's bytes, so
 * a corrected upstream version shows), lets through what the carrier documents, and still
 * refuses what is wrong. The files themselves are never edited (specs/SOURCES.md sha256).
 */

type Json = Record<string, unknown>;

/** The value at a path of keys in parsed JSON. */
function at(value: unknown, ...keys: string[]): unknown {
  return keys.reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? (node as Json)[key] : undefined), value);
}

const raw = JSON.parse(readFileSync(path.join(SPECS_DIR, 'ups-Shipping.json'), 'utf8')) as Json;
const schema = (name: string, ...keys: string[]): unknown => at(raw, 'components', 'schemas', name, ...keys);
const recoveryRequest = requestBodyValidator('ups-Shipping.json', 'post', '/labels/{version}/recovery');
const recoveryResponse = componentValidator('ups-Shipping.json', 'LABELRECOVERYResponseWrapper');

const byReference = {
  LabelRecoveryRequest: {
    Request: { TransactionReference: { CustomerContext: 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5' } },
    LabelSpecification: { LabelImageFormat: { Code: 'GIF' } },
    ReferenceValues: { ReferenceNumber: { Value: 'DS0123456789ABCDEF01234567' }, ShipperNumber: 'A1B2C3' },
  },
};

const image = { LabelImageFormat: { Code: 'GIF' }, GraphicImage: 'R0lGODlh' };
const answer = (LabelResults: unknown) => ({
  LabelRecoveryResponse: { Response: { ResponseStatus: { Code: '1', Description: 'Success' } }, LabelResults },
});

describe('corrections of ups-Shipping.json, made at load', () => {
  it('lists a reason for each, and only for defects the published file has', () => {
    const patches = SPEC_PATCHES['ups-Shipping.json'] ?? [];
    expect(patches.map((p) => p.at)).toEqual([
      '#/components/schemas/LabelRecoveryRequest',
      '#/components/schemas/LabelRecovery_LabelSpecification_LabelImageFormat',
      '#/components/schemas/LabelImage_LabelImageFormat',
      '#/components/schemas/LabelRecoveryResponse',
    ]);
    for (const p of patches) expect(p.why.length).toBeGreaterThan(40);
    // The defects, as published: Roadie-only TrackingNumbers required; 4-character format codes; LabelResults only an array.
    expect(schema('LabelRecoveryRequest', 'required')).toEqual(expect.arrayContaining(['TrackingNumbers', 'ReferenceValues']));
    expect(schema('LabelRecoveryRequest', 'properties', 'TrackingNumbers', 'description')).toMatch(/Roadie/);
    expect(schema('LabelRecovery_LabelSpecification_LabelImageFormat', 'properties', 'Code')).toEqual(expect.objectContaining({ minLength: 4, maxLength: 4 }));
    expect(schema('LabelRecovery_LabelSpecification_LabelImageFormat', 'properties', 'Code', 'description')).toMatch(/GIF/);
    expect(schema('LabelImage_LabelImageFormat', 'properties', 'Code')).toEqual(expect.objectContaining({ minLength: 4, maxLength: 4 }));
    expect(schema('LabelRecoveryResponse', 'properties', 'LabelResults', 'type')).toBe('array');
  });

  it('takes a Label Recovery by reference (no Roadie tracking numbers), and UPS’s own example by tracking number', () => {
    expect(recoveryRequest(byReference)).toEqual([]);
    const upsExample = at(raw, 'paths', '/labels/{version}/recovery', 'post', 'requestBody', 'content', 'application/json', 'examples', '1', 'value', 'LabelRecoveryRequest') as Json;
    // Its empty CustomerContext breaks the schema's own minLength 5 (not corrected): one is set.
    const request = { ...upsExample, Request: { ...(upsExample.Request as Json), TransactionReference: { CustomerContext: 'label recovery' } } };
    expect(upsExample.TrackingNumber).toBe('1Z12345E8791315509');
    expect(recoveryRequest({ LabelRecoveryRequest: request })).toEqual([]);
  });

  it('still refuses a recovery that names no label, a format code of the wrong length, and a bad shipper number', () => {
    const { ReferenceValues: _unused, ...noLabel } = byReference.LabelRecoveryRequest;
    expect(recoveryRequest({ LabelRecoveryRequest: noLabel })).not.toEqual([]);
    expect(recoveryRequest({ LabelRecoveryRequest: { ...byReference.LabelRecoveryRequest, LabelSpecification: { LabelImageFormat: { Code: 'GI' } } } })).not.toEqual([]);
    expect(
      recoveryRequest({ LabelRecoveryRequest: { ...byReference.LabelRecoveryRequest, ReferenceValues: { ReferenceNumber: { Value: 'x' }, ShipperNumber: 'A1B2' } } }),
    ).not.toEqual([]);
    expect(recoveryRequest({ LabelRecoveryRequest: { ...byReference.LabelRecoveryRequest, Request: undefined } })).not.toEqual([]);
  });

  it('takes LabelResults as one object (as UPS answers one package) or as a list, and nothing else', () => {
    expect(recoveryResponse(answer({ TrackingNumber: '1ZA1B2C30300000011', LabelImage: image }))).toEqual([]);
    expect(recoveryResponse(answer([{ TrackingNumber: '1ZA1B2C30300000011', LabelImage: image }]))).toEqual([]);
    expect(recoveryResponse(answer('1ZA1B2C30300000011'))).not.toEqual([]);
    expect(recoveryResponse(answer({ TrackingNumber: 'short', LabelImage: image }))).not.toEqual([]);
  });
});
