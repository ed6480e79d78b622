// Campaign tags of the landing URL: utm_* and ad click ids, the ones the stream's enrich step reads
// (stream_processors/enrich/campaigns.py). A single-page app drops them from the URL on its first navigation,
// so the tracker keeps them from landing and sends them as properties of every event of the page load.

// gclid, dclid, yclid, fbclid, ttclid, twclid, msclkid; gbraid, wbraid; li_fat_id; sccid.
export const CAMPAIGN_TAG = /^(utm_\w+|\w*clk?id|[gw]braid|li_fat_id|sccid)$/

/** @param {string} search a URL's query, e.g. location.search */
export function campaignOf(search) {
  const found = {}
  new URLSearchParams(search).forEach((value, name) => {
    if (CAMPAIGN_TAG.test(name)) found[name] = value
  })
  return found
}
