// The pure parts of the tracker: ids, campaign tags, properties, clicks, engagement, settings.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { campaignOf } from '../src/campaign.js'
import { clickEvents } from '../src/clicks.js'
import { readConfig } from '../src/config.js'
import { IDLE_MS, createEngagement, scrollDepth } from '../src/engagement.js'
import { uuid } from '../src/ids.js'
import { cleanProperties } from '../src/properties.js'

test('ids are distinct version-4 UUIDs, made without crypto.randomUUID (absent on http pages)', () => {
  const crypto = { getRandomValues: (array) => globalThis.crypto.getRandomValues(array) }
  const ids = new Set(Array.from({ length: 1000 }, () => uuid(crypto)))
  assert.equal(ids.size, 1000)
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
})

test('campaign tags are the utm_* parameters and the click ids the stream reads', () => {
  const search = '?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=t&utm_content=c&page=2&q=shoes'
  assert.deepEqual(campaignOf(search), {
    utm_source: 'news',
    utm_medium: 'email',
    utm_campaign: 'spring',
    utm_term: 't',
    utm_content: 'c',
  })
  // stream_processors/enrich/campaigns.py CLICK_IDS (a Python test checks this list against it)
  const clickIds = ['gclid', 'gbraid', 'wbraid', 'dclid', 'msclkid', 'ttclid', 'li_fat_id', 'twclid', 'yclid', 'sccid', 'fbclid']
  for (const name of clickIds) assert.deepEqual(campaignOf(`?${name}=abc&id=1`), { [name]: 'abc' }, name)
  assert.deepEqual(campaignOf(''), {})
})

test('properties are flat: objects and arrays become JSON, long strings are cut, undefined is left out', () => {
  const items = [{ sku: 'A-1', quantity: 2 }]
  const clean = cleanProperties({ revenue: 42.5, items, on: true, none: null, gone: undefined, long: 'x'.repeat(3000) })
  assert.deepEqual(clean, { revenue: 42.5, items: JSON.stringify(items), on: true, none: null, gone: undefined, long: 'x'.repeat(2048) })
  assert.equal(JSON.stringify(clean).includes('gone'), false)
  assert.deepEqual(cleanProperties(undefined), {})
})

/** A DOM element just rich enough for clickEvents. */
function element(tag, attributes = {}, parent = null) {
  const url = attributes.href ? new URL(attributes.href, 'https://shop.example/page') : null
  const node = {
    tag,
    parent,
    attributes: Object.entries(attributes).map(([name, value]) => ({ name, value })),
    getAttribute: (name) => attributes[name] ?? null,
    hasAttribute: (name) => name in attributes,
    closest(selector) {
      const matches = {
        '[data-beacon-event]': 'data-beacon-event' in attributes,
        'a[href]': tag == 'a' && 'href' in attributes,
      }[selector]
      return matches ? node : (parent?.closest(selector) ?? null)
    },
  }
  if (url) Object.assign(node, { href: url.href, protocol: url.protocol, host: url.host, pathname: url.pathname })
  return node
}

function clicksOn(target) {
  const events = []
  clickEvents(target, new URL('https://shop.example/page'), (name, properties) => events.push([name, properties]))
  return events
}

test('a click inside a data-beacon-event element sends it with its data-beacon-prop-* properties', () => {
  const button = element('button', { 'data-beacon-event': 'add_to_cart', 'data-beacon-prop-sku': 'A-1', 'data-beacon-prop-colour': 'red', class: 'x' })
  const icon = element('span', {}, button)
  assert.deepEqual(clicksOn(icon), [['add_to_cart', { sku: 'A-1', colour: 'red' }]])
})

test('links: outbound and downloads are events, links within the site and mailto are not', () => {
  assert.deepEqual(clicksOn(element('a', { href: 'https://partner.example/x' })), [
    ['outbound_click', { href: 'https://partner.example/x' }],
  ])
  assert.deepEqual(clicksOn(element('a', { href: '/files/price-list.PDF' })), [
    ['file_download', { href: 'https://shop.example/files/price-list.PDF' }],
  ])
  assert.deepEqual(clicksOn(element('a', { href: '/export', download: '' })), [
    ['file_download', { href: 'https://shop.example/export' }],
  ])
  assert.deepEqual(clicksOn(element('a', { href: '/shoes' })), [])
  assert.deepEqual(clicksOn(element('a', { href: 'mailto:shop@shop.example' })), [])
  assert.deepEqual(clicksOn(element('div')), [])
  assert.deepEqual(clicksOn({}), []) // a text node or the document: no closest()
})

test('engaged time counts only while visible and within IDLE_MS of activity', () => {
  let now = 1_000_000
  const engagement = createEngagement(() => now, true)
  now += 2000 // arriving counts as activity
  assert.equal(engagement.take(), 2000)
  now += 10_000 // idle: only the rest of the activity window counts
  assert.equal(engagement.take(), IDLE_MS - 2000)
  engagement.active(true)
  now += 1000
  engagement.active(false) // hidden: nothing counts until the page is shown again
  now += 3000
  assert.equal(engagement.take(), 1000)
  engagement.active(true) // shown again: counts as activity
  now += 20_000
  assert.equal(engagement.take(), IDLE_MS)
  assert.equal(engagement.take(), 0)
  now -= 60_000 // a clock set back never makes engaged time negative
  engagement.active(true)
  assert.equal(engagement.take(), 0)
})

test('scroll depth is where the bottom of the viewport is, at most 100', () => {
  const window = (scrollY, innerHeight, scrollHeight) => ({ scrollY, innerHeight, document: { documentElement: { scrollHeight } } })
  assert.equal(scrollDepth(window(0, 1000, 4000)), 25)
  assert.equal(scrollDepth(window(3000, 1000, 4000)), 100)
  assert.equal(scrollDepth(window(0, 1000, 500)), 100)
})

test('settings come from data- attributes; the collector is beside the script unless data-api says', () => {
  const script = (dataset, src = 'https://collect.example/beacon.3f2a.js') => ({ dataset, src })
  assert.deepEqual(readConfig(script({ site: 'shop' })), {
    site: 'shop',
    endpoint: 'https://collect.example/api/events',
    hash: false,
    cookieless: false,
    respectDnt: false,
    requireConsent: false,
    pingMs: 15000,
  })
  const all = readConfig(
    script({ site: 'shop', api: 'https://c.example/beacon/', hash: '', cookieless: '', respectDnt: '', requireConsent: '', pingSeconds: '2' }),
  )
  assert.equal(all.endpoint, 'https://c.example/beacon/api/events')
  assert.deepEqual([all.hash, all.cookieless, all.respectDnt, all.requireConsent, all.pingMs], [true, true, true, true, 2000])
  assert.equal(readConfig(script({ site: 's' }, 'https://c.example/t/beacon.js')).endpoint, 'https://c.example/t/api/events')
})
