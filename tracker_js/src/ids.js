// Event ids and anonymous ids: random UUIDs (version 4).

/** From getRandomValues, which every page has (crypto.randomUUID exists only on https pages). */
export const uuid = (crypto) =>
  // [1e7] + -1e3 + -4e3 + -8e3 + -1e11 is '10000000-1000-4000-8000-100000000000', written short.
  ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (digit) =>
    (digit ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (digit / 4)))).toString(16),
  )
