// Delivery: a queue of events sent in batches to the collector's browser API (POST /api/events, text/plain JSON,
// so no CORS preflight), retried with backoff, and kept in localStorage (when the tracker may store anything)
// so that events of a page that went offline are sent by the next page. Every event keeps its event_id, so a
// batch sent twice (a retry after a lost answer, two tabs) counts once downstream.

import { guard } from './guard.js'
import { QUEUE } from './storage.js'

export const MAX_QUEUE = 200 // events kept at most; beyond that the oldest go
export const BATCH = 50 // events per request
export const BATCH_DELAY_MS = 1000 // events of the same moment travel together
export const MAX_BACKOFF_MS = 30000
// Browsers refuse keepalive bodies above 64 KiB: 20,000 characters are at most 60,000 bytes of UTF-8.
const KEEPALIVE_MAX_CHARACTERS = 20000

/**
 * @param {Window} window
 * @param {{endpoint: string, site: string}} config the collector's /api/events URL and the site id
 * @param {ReturnType<import('./storage.js').createStore>} store
 * @param {() => boolean} persist whether the queue may be stored
 * @param {() => boolean} allowed whether anything may be sent now
 * @param {(event: object) => object} stamp adds what an event can carry only once it may leave the page
 */
export function createDelivery(window, { endpoint, site }, store, persist, allowed, stamp) {
  let memory = []
  let failures = 0 // consecutive failed attempts: the backoff, and no beacons while the collector is unreachable
  let timer = 0
  let inFlight = [] // ids of the events of the request under way

  // The queue lives in localStorage when it may (read again every time: another tab of the site may have
  // changed it), else in memory.
  const load = () => (persist() ? store.read(QUEUE) || [] : memory)
  const save = (events) => {
    events = events.slice(-MAX_QUEUE)
    if (persist()) store.write(QUEUE, events)
    else memory = events
  }
  const idsOf = (events) => events.map((event) => event.event_id)
  const forget = (sent) => {
    const ids = idsOf(sent)
    save(load().filter((event) => !ids.includes(event.event_id)))
  }
  const body = (events) => JSON.stringify({ site, sent_at: Date.now(), events })

  function schedule() {
    if (timer || !load().length) return
    const wait = Math.min(MAX_BACKOFF_MS, BATCH_DELAY_MS * 2 ** failures) // 1 s, then 2, 4, 8, 16, 30 s after failures
    timer = window.setTimeout(
      guard(() => {
        timer = 0
        delivery.flush()
      }),
      wait,
    )
  }

  const delivery = {
    enqueue(event) {
      save(load().concat(event))
      schedule()
    },
    /** The queue may be stored from now on: store the events held in memory, send what earlier pages left. */
    adopt() {
      save(load().concat(memory.splice(0).map(stamp)))
      schedule()
    },
    /** Consent was denied: drop what is held in memory (the store is erased as a whole). */
    discard() {
      memory = []
    },
    /** Send what is queued; `leaving`: the page is being hidden or unloaded, so hand it to sendBeacon. */
    flush(leaving) {
      if (!allowed()) return
      const pending = load().filter((event) => !inFlight.includes(event.event_id))
      if (!pending.length) return
      const batch = pending.slice(0, BATCH)
      const payload = body(batch)
      if (leaving) {
        // A beacon's answer is never known: after a failed attempt, keep the events for the next page instead.
        // So does what is beyond one batch.
        if (!failures && window.navigator.sendBeacon(endpoint, payload)) forget(batch)
        return
      }
      if (inFlight.length) return
      inFlight = idsOf(batch)
      window
        .fetch(endpoint, { method: 'POST', body: payload, keepalive: !payload[KEEPALIVE_MAX_CHARACTERS] })
        .then((response) => {
          // Any other answer is final: a refused event is in the collector's dead letters.
          // Server errors, 429 (rate limited) and 408 are worth another try.
          if (/^(5|429|408)/.test(response.status)) throw response
          failures = 0
          forget(batch)
        })
        .catch(() => failures++)
        .finally(() => {
          inFlight = []
          schedule()
        })
    },
  }
  return delivery
}
