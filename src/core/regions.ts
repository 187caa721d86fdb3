import { allCountries } from 'country-region-data';

/**
 * State and province names as ISO 3166-2 subdivision codes ("California" → "CA", "Bayern" →
 * "BY", "Nuevo León" → "NLE"), for carriers and formats that take a code and would otherwise
 * have to cut a name or leave it out. Pure.
 *
 * The names and codes are those of the `country-region-data` package (every country's
 * subdivisions, named in English or in their own language); the aliases below add the
 * spellings stores actually send for the countries whose carriers require a code (US, CA, MX,
 * AU) and a few common exonyms. Matching ignores case, accents, punctuation and spacing.
 */

const ASCII_ALNUM = /^[A-Za-z0-9]+$/;
const MARKS = /\p{M}/gu;
const NOT_LETTERS_OR_DIGITS = /[^\p{L}\p{N}]+/gu;

/** Accent-, case-, punctuation- and space-insensitive form of a name, for matching. */
function key(text: string): string {
  // Letters and digits of ASCII only (most regions: "OR", "ca"): nothing but the case to change.
  if (ASCII_ALNUM.test(text)) return text.toLowerCase();
  return text
    .normalize('NFKD')
    .replace(MARKS, '')
    .toLowerCase()
    .replace(NOT_LETTERS_OR_DIGITS, ' ')
    .trim();
}

/** Spellings the data set does not have, by country: postal abbreviations, old codes, other languages. */
const ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  US: {
    // AP style abbreviations, as people type them in address forms.
    ala: 'AL', ariz: 'AZ', ark: 'AR', calif: 'CA', cal: 'CA', colo: 'CO', conn: 'CT', del: 'DE', fla: 'FL', ga: 'GA',
    ill: 'IL', ind: 'IN', kan: 'KS', kans: 'KS', ky: 'KY', la: 'LA', md: 'MD', mass: 'MA', mich: 'MI', minn: 'MN',
    miss: 'MS', mo: 'MO', mont: 'MT', neb: 'NE', nebr: 'NE', nev: 'NV', 'n h': 'NH', 'n j': 'NJ', 'n m': 'NM',
    'n y': 'NY', 'n c': 'NC', 'n d': 'ND', okla: 'OK', ore: 'OR', oreg: 'OR', pa: 'PA', penn: 'PA', 'r i': 'RI',
    's c': 'SC', 's d': 'SD', tenn: 'TN', tex: 'TX', vt: 'VT', va: 'VA', wash: 'WA', 'w va': 'WV', wis: 'WI',
    wisc: 'WI', wyo: 'WY', 'd c': 'DC', 'washington d c': 'DC', 'washington dc': 'DC',
    'u s virgin islands': 'VI', 'us virgin islands': 'VI',
  },
  CA: {
    quebec: 'QC', pq: 'QC', que: 'QC', newfoundland: 'NL', nf: 'NL', labrador: 'NL', pei: 'PE', 'p e i': 'PE',
    'yukon territory': 'YT', yk: 'YT', nwt: 'NT', 'n w t': 'NT',
    'colombie britannique': 'BC', 'nouvelle ecosse': 'NS', 'nouveau brunswick': 'NB', 'terre neuve et labrador': 'NL',
    'ile du prince edouard': 'PE', 'territoires du nord ouest': 'NT',
  },
  MX: {
    'mexico city': 'CMX', cdmx: 'CMX', 'distrito federal': 'CMX', df: 'CMX', 'ciudad de mexico': 'CMX',
    'estado de mexico': 'MEX', mexico: 'MEX', edomex: 'MEX', coahuila: 'COA', michoacan: 'MIC', queretaro: 'QUE',
    veracruz: 'VER', 'veracruz de ignacio de la llave': 'VER', 'baja california norte': 'BCN', 'nuevo leon': 'NLE',
  },
  AU: { 'n s w': 'NSW', 'a c t': 'ACT', 'n t': 'NT', 'w a': 'WA', 's a': 'SA', qld: 'QLD', vic: 'VIC', tas: 'TAS' },
  DE: { bavaria: 'BY', 'baden wuerttemberg': 'BW', hesse: 'HE', 'lower saxony': 'NI', 'north rhine westphalia': 'NW', 'rhineland palatinate': 'RP', saxony: 'SN', 'saxony anhalt': 'ST', thuringia: 'TH', thueringen: 'TH', 'mecklenburg western pomerania': 'MV' },
};

/** Country → (matching key of a name, alias or code → code), built once. */
const BY_COUNTRY: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map(
  allCountries.map(([, country, regions]) => {
    const keys = new Map<string, string>();
    for (const [name, code] of regions) {
      // Some subdivisions in the data have no code: nothing to send for them.
      if (code === '') continue;
      keys.set(key(name), code);
      keys.set(key(code), code);
      keys.set(key(`${country}-${code}`), code);
    }
    for (const [alias, code] of Object.entries(ALIASES[country] ?? {})) if (!keys.has(alias)) keys.set(alias, code);
    return [country, keys] as const;
  }),
);

/**
 * The ISO 3166-2 subdivision code (the part after "US-") of `region` in `country`: for a
 * name ("California", "québec", "Nuevo Leon"), an abbreviation ("Calif.", "N.S.W."), the code
 * itself ("ca") or the full code ("US-CA"). Undefined when the country has no such
 * subdivision.
 */
export function regionCode(country: string, region: string | undefined): string | undefined {
  if (region === undefined) return undefined;
  const k = key(region);
  if (k === '') return undefined;
  return BY_COUNTRY.get(country.trim().toUpperCase())?.get(k);
}
