// A small stand-in for the browser objects the tracker touches, so unit tests run in node without a DOM.
// Timers and Date come from node:test's mock.timers, enabled by each test that needs them.

export function fakeStorage() {
  const storage = {}
  Object.defineProperty(storage, 'removeItem', { value: (key) => delete storage[key], enumerable: false })
  return storage
}

/** A cookie jar behind document.cookie: `name=value;max-age=…` sets (max-age=0 deletes), reading lists them. */
function cookieJar() {
  const cookies = new Map()
  return {
    get cookie() {
      return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    },
    set cookie(text) {
      const [pair, ...attributes] = text.split(';')
      const [name, value] = pair.split('=')
      if (attributes.some((attribute) => attribute.trim() == 'max-age=0')) cookies.delete(name)
      else cookies.set(name, value)
    },
  }
}

export function fakeWindow({ url = 'https://shop.example/', referrer = '', storage = fakeStorage(), jar } = {}) {
  const listeners = []
  const requests = []
  const beacons = []
  const document = Object.assign(jar || cookieJar(), {
    title: 'Shop',
    referrer,
    hidden: false,
    documentElement: { scrollHeight: 3000 },
    addEventListener: (type, listener) => listeners.push({ target: 'document', type, listener }),
  })
  const window = {
    document,
    location: new URL(url),
    navigator: {
      sendBeacon(endpoint, body) {
        beacons.push({ endpoint, body: JSON.parse(body) })
        return window.beaconAccepts
      },
    },
    // location is one object that changes in place, as in a browser (the tracker keeps a reference to it).
    history: {
      pushState(state, title, next) {
        window.location.href = new URL(next, window.location.href).href
      },
      replaceState(state, title, next) {
        window.location.href = new URL(next, window.location.href).href
      },
    },
    localStorage: storage,
    crypto: globalThis.crypto,
    scrollY: 0,
    innerHeight: 1000,
    setTimeout: (...args) => setTimeout(...args),
    clearTimeout: (...args) => clearTimeout(...args),
    setInterval: (...args) => setInterval(...args),
    addEventListener: (type, listener) => listeners.push({ target: 'window', type, listener }),
    beaconAccepts: true,
    answer: () => ({ status: 200 }), // the collector's answer to the next fetch; throw for a network error
    async fetch(endpoint, options) {
      const body = JSON.parse(options.body)
      requests.push({ endpoint, options, body })
      return window.answer(body)
    },
    requests,
    beacons,
    /** Every event that left the page, by fetch or beacon, in order. */
    sent: () => [...requests, ...beacons].flatMap((request) => request.body.events),
    dispatch(target, type, event = {}) {
      for (const entry of listeners) if (entry.target == target && entry.type == type) entry.listener(event)
    },
  }
  return window
}

/** Let pending promise callbacks (fetch answers) run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve))
