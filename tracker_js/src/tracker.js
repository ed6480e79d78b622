// The tracker: automatic page views (single-page apps included), page pings, clicks, and the commands of
// window.beacon(...). Each concern is a small module; this one wires them to the page.

import { campaignOf } from './campaign.js'
import { clickEvents } from './clicks.js'
import { createDelivery } from './delivery.js'
import { createEngagement, scrollDepth } from './engagement.js'
import { guard } from './guard.js'
import { uuid } from './ids.js'
import { cleanProperties } from './properties.js'
import { USER_ID, createStore } from './storage.js'

// What the visitor does that shows engagement, and the page being shown or hidden.
const ACTIVITY = ['visibilitychange', 'mousemove', 'keydown', 'touchstart', 'scroll']

/**
 * @param {Window} window
 * @param {ReturnType<import('./config.js').readConfig>} config
 */
export function createTracker(window, config) {
  const { document, location, navigator, history } = window
  const store = createStore(window)
  const newId = () => uuid(window.crypto)
  // Do Not Track or Global Privacy Control, where the site asks to respect them: the tracker stays off.
  const off = config.respectDnt && (navigator.doNotTrack == 1 /* '1' */ || navigator.globalPrivacyControl)
  let consent // 'granted' or 'denied' once the page says
  let anonymousId
  let userId
  let pageViewId = newId() // known before the first page view: commands queued before the script ran carry it
  let pageUrl // of the current page view: the referrer of the next
  let route // what a navigation must change to make a new page view
  let depth // the deepest scroll of the page view, in percent
  const landing = campaignOf(location.search)
  const engagement = createEngagement(Date.now, !document.hidden)

  const allowed = () => !off && consent != 'denied' && (consent || !config.requireConsent)
  const persist = () => allowed() && !config.cookieless
  /** What an event can carry only once it may leave the page (with consent, when that is required). */
  const stamp = (event) => {
    if (persist()) event.anonymous_id ||= anonymousId ||= store.anonymousId() || store.setAnonymousId(newId())
    event.consent ||= consent
    return event
  }
  const delivery = createDelivery(window, config, store, persist, allowed, stamp)

  function send(name, properties, fields) {
    if (off || consent == 'denied') return
    delivery.enqueue(
      stamp({
        event_id: newId(),
        name,
        url: location.href,
        user_id: userId,
        timestamp: Date.now(),
        properties: cleanProperties({ ...landing, page_view_id: pageViewId, ...properties }),
        ...fields,
      }),
    )
  }

  const routeOf = () => (config.hash ? location.href : location.href.split('#')[0])

  function pageView(referrer) {
    pageUrl = location.href
    route = routeOf()
    depth = scrollDepth(window)
    send('page_view', { title: document.title }, { event_id: pageViewId, referrer })
  }

  /** The engaged time since the last ping, for the page view's URL (a navigation may have changed it already). */
  function ping() {
    const engagedMs = engagement.take()
    if (engagedMs) send('page_ping', { engaged_ms: engagedMs, scroll_depth: depth }, { url: pageUrl })
  }

  function navigated() {
    if (routeOf() != route) {
      ping() // the last of the page view that ends: engaged time from here on is the new one's
      pageViewId = newId()
      pageView(pageUrl)
    }
  }

  /** Hidden or left (pagehide comes before visibilitychange): no engaged time from here on, the last ping. */
  function leave() {
    engagement.active(false)
    ping()
    delivery.flush(true)
  }

  /** Storing became allowed (at start, or on consent): the user id, and the queue into localStorage. */
  function restore() {
    if (persist()) {
      userId ||= store.read(USER_ID)
      delivery.adopt()
    }
  }

  const commands = {
    track: (name, properties) => send(name, properties),
    identify(id, traits) {
      if (id == null) return // an identify without a user: a page bug, not a user named "undefined"
      userId = String(id)
      if (persist()) store.write(USER_ID, userId)
      send('identify', traits)
    },
    /** Log out: forget the user id and start a new anonymous visitor. */
    reset() {
      userId = anonymousId = null
      store.remove(USER_ID)
      if (persist()) anonymousId = store.setAnonymousId(newId())
    },
    purchase: (order) => send('purchase', order),
    chat: (type, properties) => send('chat_' + type.replace(/^chat_/, ''), properties),
    consent(state) {
      if (state == 'denied') {
        delivery.discard()
        store.erase()
        anonymousId = null
      }
      if (state == 'denied' || state == 'granted') consent = state
      restore()
    },
  }
  const command = guard((name, ...args) => commands[name](...args))
  // Capturing: a page that stops an event's propagation does not hide it from the tracker.
  const listen = (target, types, listener) =>
    types.forEach((type) => target.addEventListener(type, guard(listener), true))

  return {
    start() {
      const queued = window.beacon?.q || []
      window.beacon = command
      command.loaded = true
      restore()
      // Commands queued before the script ran come first: a consent or identify concerns the first page view.
      queued.forEach((args) => command(...args))
      pageView(document.referrer)

      for (const method of ['pushState', 'replaceState']) {
        const original = history[method]
        history[method] = (...args) => {
          try {
            return original.apply(history, args) // the page's own call: its errors are the page's
          } finally {
            guard(navigated)()
          }
        }
      }
      listen(window, ['popstate', 'hashchange'], navigated) // a new hash is a new page only with data-hash
      // Activity, or the page shown: engaged from now on; hidden: not, and it may be the last chance to send.
      listen(document, ACTIVITY, () => (document.hidden ? leave() : engagement.active(true)))
      listen(document, ['scroll'], () => (depth = Math.max(depth, scrollDepth(window))))
      listen(document, ['click', 'auxclick'], (event) => clickEvents(event.target, location, send))
      listen(window, ['pagehide'], leave)
      window.setInterval(guard(ping), config.pingMs)
    },
  }
}
