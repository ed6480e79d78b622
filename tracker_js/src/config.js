// The snippet's settings, read once from the data- attributes of its <script> tag. A flag is on when present.

/** @param {HTMLScriptElement} script */
export function readConfig({ dataset, src }) {
  return {
    site: dataset.site,
    // The collector's base URL: data-api, else where the script itself was loaded from (beside it).
    endpoint: new URL('api/events', dataset.api || src).href,
    hash: 'hash' in dataset, // hash routing: a new #fragment is a new page view
    cookieless: 'cookieless' in dataset,
    respectDnt: 'respectDnt' in dataset, // data-respect-dnt
    requireConsent: 'requireConsent' in dataset, // data-require-consent
    pingMs: 1000 * (dataset.pingSeconds || 15), // data-ping-seconds
  }
}
