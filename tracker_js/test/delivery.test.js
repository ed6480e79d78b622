// Delivery: batching, retries with backoff, beacons on leaving, the stored queue across page loads.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, mock, test } from 'node:test'

import { BATCH, BATCH_DELAY_MS, MAX_QUEUE, createDelivery } from '../src/delivery.js'
import { QUEUE, createStore } from '../src/storage.js'
import { fakeStorage, fakeWindow, settle } from './fake_window.js'

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_700_000_000_000 }))
afterEach(() => mock.timers.reset())

const config = { endpoint: 'https://collect.example/api/events', site: 'shop' }
const event = (n) => ({ event_id: `id-${n}`, name: 'signup', timestamp: 1_700_000_000_000 })

function delivering(window, { persist = true, allowed = () => true } = {}) {
  return createDelivery(window, config, createStore(window), () => persist, allowed, (stamped) => stamped)
}

async function elapse(ms) {
  mock.timers.tick(ms)
  await settle()
}

test('events of the same moment go in one text/plain batch with sent_at, once the batch delay is over', async () => {
  const window = fakeWindow()
  const delivery = delivering(window)
  delivery.enqueue(event(1))
  delivery.enqueue(event(2))
  assert.equal(window.requests.length, 0)
  await elapse(BATCH_DELAY_MS)
  assert.equal(window.requests.length, 1)
  const [request] = window.requests
  assert.equal(request.endpoint, config.endpoint)
  assert.equal(typeof request.options.body, 'string') // a string body is sent as text/plain: no CORS preflight
  assert.equal(request.options.keepalive, true)
  assert.deepEqual(request.body, { site: 'shop', sent_at: 1_700_000_000_000 + BATCH_DELAY_MS, events: [event(1), event(2)] })
  assert.deepEqual(window.localStorage[QUEUE], '[]')
})

test('network errors and 5xx/429 answers are retried with a growing backoff; other answers are final', async () => {
  const window = fakeWindow()
  const delivery = delivering(window)
  const answers = [() => Promise.reject(new TypeError('offline')), () => ({ status: 503 }), () => ({ status: 429 }), () => ({ status: 200 })]
  window.answer = () => answers[window.requests.length - 1]()
  delivery.enqueue(event(1))
  await elapse(BATCH_DELAY_MS)
  await elapse(2000 - 1) // backoff after one failure: 2 s
  assert.equal(window.requests.length, 1)
  await elapse(1)
  assert.equal(window.requests.length, 2)
  await elapse(4000) // after two: 4 s
  assert.equal(window.requests.length, 3)
  await elapse(8000)
  assert.equal(window.requests.length, 4)
  assert.deepEqual(new Set(window.requests.map((request) => request.body.events[0].event_id)), new Set(['id-1']))
  assert.equal(window.localStorage[QUEUE], '[]')

  window.answer = () => ({ status: 400 }) // refused: the collector keeps it in its dead letters
  delivery.enqueue(event(2))
  await elapse(BATCH_DELAY_MS)
  await elapse(60_000)
  assert.equal(window.requests.length, 5)
  assert.equal(window.localStorage[QUEUE], '[]')
})

test('large queues go in batches, one request at a time', async () => {
  const window = fakeWindow()
  const delivery = delivering(window)
  for (let n = 0; n < BATCH + 10; n++) delivery.enqueue(event(n))
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual(window.requests.map((request) => request.body.events.length), [BATCH])
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual(window.requests.map((request) => request.body.events.length), [BATCH, 10])
})

test('leaving hands the queue to sendBeacon, but not while the collector is unreachable', async () => {
  const window = fakeWindow()
  const delivery = delivering(window)
  delivery.enqueue(event(1))
  delivery.flush(true)
  assert.deepEqual(window.beacons.map((beacon) => beacon.body.events), [[event(1)]])
  assert.equal(window.localStorage[QUEUE], '[]')

  window.answer = () => Promise.reject(new TypeError('offline'))
  delivery.enqueue(event(2))
  await elapse(BATCH_DELAY_MS)
  delivery.flush(true)
  assert.equal(window.beacons.length, 1)
  assert.deepEqual(JSON.parse(window.localStorage[QUEUE]), [event(2)]) // for the next page
})

test('a beacon the browser refuses leaves the events queued', () => {
  const window = fakeWindow()
  window.beaconAccepts = false
  const delivery = delivering(window)
  delivery.enqueue(event(1))
  delivery.flush(true)
  assert.deepEqual(JSON.parse(window.localStorage[QUEUE]), [event(1)])
})

test('the next page load sends what an offline page left, once', async () => {
  const storage = fakeStorage()
  const first = fakeWindow({ storage })
  first.answer = () => Promise.reject(new TypeError('offline'))
  delivering(first).enqueue(event(1))
  await elapse(BATCH_DELAY_MS)
  const second = fakeWindow({ storage })
  const delivery = delivering(second)
  delivery.adopt()
  delivery.enqueue(event(2))
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual(second.sent(), [event(1), event(2)])
  assert.equal(storage[QUEUE], '[]')
})

test('the queue is bounded: the oldest events go first', () => {
  const window = fakeWindow()
  const delivery = delivering(window)
  for (let n = 0; n < MAX_QUEUE + 5; n++) delivery.enqueue(event(n))
  const kept = JSON.parse(window.localStorage[QUEUE])
  assert.equal(kept.length, MAX_QUEUE)
  assert.equal(kept[0].event_id, 'id-5')
})

test('without persistence nothing is stored; without permission nothing is sent', async () => {
  const window = fakeWindow()
  let allowed = false
  const delivery = delivering(window, { persist: false, allowed: () => allowed })
  delivery.enqueue(event(1))
  await elapse(BATCH_DELAY_MS)
  delivery.flush(true)
  assert.deepEqual([window.requests.length, window.beacons.length, Object.keys(window.localStorage)], [0, 0, []])
  allowed = true
  delivery.enqueue(event(2))
  await elapse(BATCH_DELAY_MS)
  assert.deepEqual(window.sent(), [event(1), event(2)])
  assert.deepEqual(Object.keys(window.localStorage), [])
})
