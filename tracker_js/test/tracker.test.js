// The tracker as a page uses it: the snippet's queue, page views (single-page apps too), pings, the commands,
// identity, consent and privacy. The browser is faked (fake_window.js); the real one is in tests/e2e.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, mock, test } from 'node:test'

import { readConfig } from '../src/config.js'
import { BATCH_DELAY_MS } from '../src/delivery.js'
import { IDLE_MS } from '../src/engagement.js'
import { ANONYMOUS_ID, QUEUE, USER_ID } from '../src/storage.js'
import { createTracker } from '../src/tracker.js'
import { fakeWindow, settle } from './fake_window.js'

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_700_000_000_000 }))
afterEach(() => mock.timers.reset())

const UUID = /^[0-9a-f-]{36}$/

/** The snippet: the queue stub, the calls a page makes before the script loads, then the script. */
function load(window, dataset = {}, ...queued) {
  window.beacon = function () {
    ;(window.beacon.q = window.beacon.q || []).push(arguments)
  }
  for (const args of queued) window.beacon(...args)
  const config = readConfig({ dataset: { site: 'shop', pingSeconds: '10', ...dataset }, src: 'https://c.example/beacon.js' })
  createTracker(window, config).start()
  return window
}

async function elapse(ms) {
  mock.timers.tick(ms)
  await settle()
}

const names = (window) => window.sent().map((event) => event.name)

test('the first page view: url, referrer, title, campaign tags, an anonymous id in a first-party cookie', async () => {
  const window = load(fakeWindow({ url: 'https://shop.example/?utm_source=news&gclid=g1', referrer: 'https://search.example/' }))
  await elapse(BATCH_DELAY_MS)
  const [request] = window.requests
  assert.equal(request.endpoint, 'https://c.example/api/events')
  const [view] = request.body.events
  assert.match(view.event_id, UUID)
  assert.match(view.anonymous_id, UUID)
  assert.deepEqual(
    { ...view, event_id: 'e', anonymous_id: 'a' },
    {
      event_id: 'e',
      anonymous_id: 'a',
      name: 'page_view',
      url: 'https://shop.example/?utm_source=news&gclid=g1',
      referrer: 'https://search.example/',
      timestamp: 1_700_000_000_000,
      properties: { utm_source: 'news', gclid: 'g1', page_view_id: view.event_id, title: 'Shop' },
    },
  )
  assert.equal(window.document.cookie, `${ANONYMOUS_ID}=${view.anonymous_id}`)
})

test('calls queued before the script loaded are replayed, consent and identify before the first page view', async () => {
  const window = load(fakeWindow(), {}, ['track', 'early', { n: 1 }], ['identify', 42, { plan: 'pro' }])
  await elapse(BATCH_DELAY_MS)
  const events = window.sent()
  assert.deepEqual(names(window), ['early', 'identify', 'page_view'])
  assert.deepEqual(events.map((event) => event.user_id), [undefined, '42', '42'])
  assert.equal(events[1].properties.plan, 'pro')
  const pageViewId = events[2].event_id
  assert.deepEqual(events.map((event) => event.properties.page_view_id), [pageViewId, pageViewId, pageViewId])
  assert.equal(typeof window.beacon, 'function')
  window.beacon('track', 'later')
  await elapse(BATCH_DELAY_MS)
  assert.equal(names(window).at(-1), 'later')
})

test('single-page apps: pushState and popstate make page views, with the previous page as referrer', async () => {
  const window = load(fakeWindow({ url: 'https://shop.example/?utm_campaign=spring' }))
  window.history.pushState({}, '', '/shoes')
  window.history.replaceState({ scroll: 1 }, '', '/shoes') // same page: nothing
  window.history.pushState({}, '', '/shoes#reviews') // a hash without data-hash: nothing
  window.dispatch('window', 'hashchange')
  window.history.back = () => (window.location.href = 'https://shop.example/?utm_campaign=spring')
  window.history.back()
  window.dispatch('window', 'popstate')
  await elapse(BATCH_DELAY_MS)
  const views = window.sent().filter((event) => event.name == 'page_view')
  assert.deepEqual(
    views.map((view) => [view.url, view.referrer]),
    [
      ['https://shop.example/?utm_campaign=spring', ''],
      ['https://shop.example/shoes', 'https://shop.example/?utm_campaign=spring'],
      ['https://shop.example/?utm_campaign=spring', 'https://shop.example/shoes'],
    ],
  )
  assert.equal(views[1].properties.utm_campaign, 'spring') // kept from landing
  assert.equal(new Set(views.map((view) => view.properties.page_view_id)).size, 3)
})

test('hash routing with data-hash: a new #fragment is a new page view', async () => {
  const window = load(fakeWindow({ url: 'https://shop.example/#/home' }), { hash: '' })
  window.location.href = 'https://shop.example/#/cart'
  window.dispatch('window', 'hashchange')
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual(window.sent().map((event) => event.url), ['https://shop.example/#/home', 'https://shop.example/#/cart'])
})

test('page pings carry engaged milliseconds since the previous ping, the deepest scroll and the page view', async () => {
  const window = load(fakeWindow())
  await elapse(10_000) // arriving counts as IDLE_MS of activity
  window.scrollY = 2000
  window.dispatch('document', 'scroll')
  await elapse(10_000)
  window.dispatch('document', 'mousemove')
  await elapse(2000)
  window.document.hidden = true
  window.dispatch('document', 'visibilitychange') // hiding sends a final ping, by beacon
  await elapse(BATCH_DELAY_MS)
  const events = window.sent()
  const view = events.find((event) => event.name == 'page_view')
  const pings = events.filter((event) => event.name == 'page_ping').map((event) => event.properties)
  assert.deepEqual(
    pings.map(({ engaged_ms, scroll_depth, page_view_id }) => [engaged_ms, scroll_depth, page_view_id]),
    [
      [IDLE_MS, 33, view.event_id],
      [IDLE_MS, 100, view.event_id],
      [2000, 100, view.event_id],
    ],
  )
  assert.equal(window.beacons.length, 1)
  await elapse(60_000) // hidden: no engaged time, no pings
  assert.equal(window.sent().filter((event) => event.name == 'page_ping').length, 3)
})

test('a navigation ends the page view with its last ping; pagehide sends the final one, once', async () => {
  const window = load(fakeWindow())
  await elapse(3000)
  window.history.pushState({}, '', '/next')
  await elapse(1000)
  window.dispatch('window', 'pagehide')
  await elapse(1)
  window.document.hidden = true
  window.dispatch('document', 'visibilitychange') // browsers fire it after pagehide when a page is left
  const events = window.sent()
  const [first, second] = events.filter((event) => event.name == 'page_view')
  const pings = events.filter((event) => event.name == 'page_ping')
  assert.deepEqual(
    pings.map((ping) => [ping.properties.page_view_id, ping.url, ping.properties.engaged_ms]),
    [
      [first.event_id, 'https://shop.example/', 3000], // the URL of its page view, not of the next
      [second.event_id, 'https://shop.example/next', 1000],
    ],
  )
})

test('clicks: data-beacon-event elements and outbound links become events', async () => {
  const window = load(fakeWindow())
  const link = {
    closest: (selector) => (selector == 'a[href]' ? link : null),
    href: 'https://partner.example/',
    protocol: 'https:',
    host: 'partner.example',
    pathname: '/',
    hasAttribute: () => false,
  }
  window.dispatch('document', 'click', { target: link })
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual(window.sent().at(-1).properties.href, 'https://partner.example/')
  assert.equal(names(window).at(-1), 'outbound_click')
})

test('identify then track carries the user id, kept for the next page; reset forgets it and the visitor', async () => {
  const window = load(fakeWindow())
  window.beacon('identify', 'user-7', { plan: 'pro' })
  window.beacon('track', 'signup', { source: 'footer' })
  await elapse(BATCH_DELAY_MS)
  const [view, identify, signup] = window.sent()
  assert.deepEqual([view.user_id, identify.user_id, signup.user_id], [undefined, 'user-7', 'user-7'])
  assert.equal(identify.anonymous_id, view.anonymous_id)
  assert.equal(window.localStorage[USER_ID], '"user-7"')

  const next = load(fakeWindow({ storage: window.localStorage, jar: window.document }))
  await elapse(BATCH_DELAY_MS)
  assert.equal(next.sent()[0].user_id, 'user-7')
  assert.equal(next.sent()[0].anonymous_id, view.anonymous_id)

  next.beacon('reset')
  next.beacon('track', 'after_logout')
  await elapse(BATCH_DELAY_MS)
  const after = next.sent().at(-1)
  assert.equal(after.user_id, null)
  assert.notEqual(after.anonymous_id, view.anonymous_id)
  assert.equal(next.localStorage[USER_ID], undefined)
})

test('purchase and chat commands use the names and properties the stream expects', async () => {
  const window = load(fakeWindow())
  const items = [{ sku: 'A-1', price: 20, quantity: 2 }]
  window.beacon('purchase', { order_id: 'o-1', revenue: 40, currency: 'EUR', items })
  window.beacon('chat', 'conversation_started', { conversation_id: 'c-1', channel: 'web' })
  window.beacon('chat', 'chat_rated', { conversation_id: 'c-1', rating: 5 })
  await elapse(BATCH_DELAY_MS)
  const [, purchase, started, rated] = window.sent()
  assert.equal(purchase.name, 'purchase')
  assert.deepEqual(
    { ...purchase.properties, page_view_id: 'p' },
    { order_id: 'o-1', revenue: 40, currency: 'EUR', items: JSON.stringify(items), page_view_id: 'p' },
  )
  assert.deepEqual([started.name, rated.name], ['chat_conversation_started', 'chat_rated'])
  assert.equal(rated.properties.rating, 5)
})

test('consent denied: nothing is sent and nothing stays stored, until it is granted', async () => {
  const window = load(fakeWindow(), {}, ['consent', 'denied'])
  window.beacon('track', 'ignored')
  await elapse(BATCH_DELAY_MS)
  window.dispatch('window', 'pagehide')
  assert.deepEqual(window.sent(), [])
  assert.deepEqual([window.document.cookie, Object.keys(window.localStorage)], ['', []])

  const withdrawn = load(fakeWindow())
  withdrawn.beacon('consent', 'denied') // within the batch delay: the page view never leaves
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual([withdrawn.sent(), withdrawn.document.cookie, Object.keys(withdrawn.localStorage)], [[], '', []])
  withdrawn.beacon('consent', 'granted')
  withdrawn.beacon('track', 'counted')
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual(names(withdrawn), ['counted'])
  assert.equal(withdrawn.sent()[0].consent, 'granted')
})

test('data-require-consent holds events in memory until consent is granted', async () => {
  const window = load(fakeWindow(), { requireConsent: '' })
  await elapse(BATCH_DELAY_MS)
  window.dispatch('window', 'pagehide')
  assert.deepEqual([window.sent(), window.document.cookie, Object.keys(window.localStorage)], [[], '', []])
  window.beacon('consent', 'granted')
  await elapse(BATCH_DELAY_MS)
  const [view] = window.sent()
  assert.equal(view.name, 'page_view')
  assert.equal(view.consent, 'granted')
  assert.match(view.anonymous_id, UUID)
})

test('cookieless: no anonymous id, no cookie, nothing in localStorage, even after identify', async () => {
  const window = load(fakeWindow(), { cookieless: '' })
  window.beacon('identify', 'user-1')
  await elapse(BATCH_DELAY_MS)
  window.dispatch('window', 'pagehide')
  assert.deepEqual(names(window), ['page_view', 'identify', 'page_ping'])
  assert.equal(window.sent().some((event) => 'anonymous_id' in event), false)
  assert.deepEqual([window.document.cookie, Object.keys(window.localStorage)], ['', []])
})

test('Do Not Track and Global Privacy Control switch the tracker off only where the site asks', async () => {
  for (const signal of [{ doNotTrack: '1' }, { globalPrivacyControl: true }]) {
    const respected = fakeWindow()
    Object.assign(respected.navigator, signal)
    load(respected, { respectDnt: '' })
    respected.beacon('track', 'x')
    await elapse(BATCH_DELAY_MS)
    assert.deepEqual([respected.sent(), respected.document.cookie], [[], ''])

    const ignored = fakeWindow()
    Object.assign(ignored.navigator, signal)
    load(ignored)
    await elapse(BATCH_DELAY_MS)
    assert.equal(ignored.sent().length, 1)
  }
})

test('nothing throws into the page: unknown commands, broken storage, a fetch that throws', async () => {
  for (const cookieless of [false, true]) {
    const window = fakeWindow()
    Object.defineProperty(window, 'localStorage', { get: () => { throw new Error('SecurityError') } })
    window.fetch = () => { throw new Error('blocked by an extension') }
    load(window, cookieless ? { cookieless: '' } : {}, ['nonsense'], ['track'])
    window.beacon('identify')
    window.beacon('purchase', null)
    window.beacon()
    window.history.pushState({}, '', '/x')
    await elapse(BATCH_DELAY_MS)
    await elapse(60_000)
    window.dispatch('window', 'pagehide')
    window.dispatch('document', 'click', { target: null })
  }
})

test('an identify without a user id changes nothing', async () => {
  const window = load(fakeWindow())
  window.beacon('identify')
  window.beacon('track', 'after')
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual(window.sent().map((event) => [event.name, event.user_id]), [['page_view', undefined], ['after', undefined]])
})
