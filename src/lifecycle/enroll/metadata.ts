// What the page's script needs of libphonenumber-js's metadata: the allowed countries only.
import { type CountryCode, getCountries, getExampleNumber, type MetadataJson } from 'libphonenumber-js';
import metadata from 'libphonenumber-js/min/metadata';
import examples from 'libphonenumber-js/mobile/examples';

const FULL = metadata as unknown as MetadataJson & {
  countries: Record<string, unknown>;
  country_calling_codes: Record<string, string[]>;
};

/** The countries a number may be entered for: the allow-list, or every country libphonenumber-js knows. */
export function countriesOf(allowed: Set<string> | 'all'): CountryCode[] {
  return allowed === 'all' ? getCountries() : ([...allowed] as CountryCode[]);
}

const trimmed = new Map<string, MetadataJson>();

/** The metadata of `countries` alone (a few hundred bytes each instead of the whole world). */
export function metadataFor(countries: readonly CountryCode[]): MetadataJson {
  const key = countries.join(',');
  let out = trimmed.get(key);
  if (out) return out;
  const wanted = new Set<string>(countries);
  const callingCodes: Record<string, string[]> = {};
  for (const [code, list] of Object.entries(FULL.country_calling_codes)) {
    const kept = list.filter((c) => wanted.has(c));
    if (kept.length > 0) callingCodes[code] = kept;
  }
  const kept = Object.fromEntries(Object.entries(FULL.countries).filter(([c]) => wanted.has(c)));
  // Without the non-geographic numbering plans (+800, +882…): no allow-list admits them.
  out = {
    version: FULL.version,
    country_calling_codes: callingCodes,
    countries: kept,
  } as unknown as MetadataJson;
  if (trimmed.size < 50) trimmed.set(key, out);
  return out;
}

/** A mobile number of the country as it is written there (`0470 12 34 56`), for the hint. */
export function exampleOf(country: CountryCode): string {
  return getExampleNumber(country, examples)?.formatNational() ?? '';
}
