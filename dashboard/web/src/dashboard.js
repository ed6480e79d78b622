// The dashboard page: picks a site and a period, asks the server for each named query's rows, and shows them.
// Every figure comes from a query of dashboard/queries.py; this script only formats and draws them.
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import './dashboard.css'

const LIVE_SECONDS = 5
const API = '/dashboard/api/queries/'
const RATE = /(_rate$|^of_|^week_\d+$)/ // shares from 0 to 1, shown as percentages
const COLORS = ['#2563eb', '#db2777', '#16a34a', '#ea580c', '#7c3aed', '#0891b2', '#ca8a04', '#64748b']
const numbers = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })
const charts = new Map() // element id -> uPlot

const $ = (selector) => document.querySelector(selector)

/** The text a value is shown as: the one formatting rule of the page (tests/e2e/test_dashboard.py mirrors it). */
function formatValue(column, value) {
  if (value === null || value === undefined) return '–'
  if (typeof value === 'number') return RATE.test(column) ? `${(value * 100).toFixed(1)}%` : numbers.format(value)
  if (value === '') return '(none)'
  return String(value)
}

function chosen() {
  return { site: $('#site').value, from: $('#from').value, to: $('#to').value }
}

async function rowsOf(name, filter) {
  const response = await fetch(API + name + '?' + new URLSearchParams(filter), { credentials: 'same-origin' })
  if (response.status === 401) {
    window.location.assign('/dashboard') // the session cookie is gone: log in again
    throw new Error('not logged in')
  }
  const body = await response.json()
  if (!response.ok) throw new Error(`${name}: ${body.error}`)
  return body
}

function renderTable(element, result) {
  const table = document.createElement('table')
  const head = table.createTHead().insertRow()
  for (const column of result.columns) {
    const cell = document.createElement('th')
    cell.textContent = column.replaceAll('_', ' ')
    head.appendChild(cell)
  }
  const body = table.createTBody()
  result.rows.forEach((row, index) => {
    const line = body.insertRow()
    line.dataset.row = String(index)
    row.forEach((value, column) => {
      const cell = line.insertCell()
      cell.dataset.column = result.columns[column]
      cell.dataset.value = JSON.stringify(value)
      cell.textContent = formatValue(result.columns[column], value)
      if (typeof value === 'number') cell.className = 'number'
    })
  })
  element.replaceChildren(table)
  if (!result.rows.length) element.insertAdjacentHTML('beforeend', '<p class="empty">Nothing in this period.</p>')
}

/** Draw (or redraw) a uPlot chart in ``element``: x values and one series per name. */
function draw(element, x, series, { time = true, bars = false } = {}) {
  charts.get(element.id)?.destroy()
  const width = Math.max(element.clientWidth, 240)
  const options = {
    title: element.dataset.title,
    width,
    height: 220,
    scales: { x: { time } },
    axes: [{}, { size: 50 }],
    series: [
      {},
      ...series.map(({ label }, index) => ({
        label,
        stroke: COLORS[index % COLORS.length],
        fill: bars ? COLORS[index % COLORS.length] + '55' : undefined,
        width: 2,
        paths: bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined,
        points: { show: false },
      })),
    ],
  }
  const chart = new uPlot(options, [x, ...series.map(({ values }) => values)], element)
  charts.set(element.id, chart)
}

const seconds = (text) => Date.parse(text.length === 10 ? `${text}T00:00:00Z` : `${text}Z`) / 1000

function drawEventsPerMinute(result) {
  const minute = result.columns.indexOf('minute')
  const events = result.columns.indexOf('events')
  draw($('#events-per-minute'), result.rows.map((row) => seconds(row[minute])), [
    { label: 'events', values: result.rows.map((row) => row[events]) },
  ], { bars: true })
}

function drawTrafficByDay(result) {
  const day = result.columns.indexOf('day')
  const names = ['visitors', 'page_views', 'sessions']
  draw($('#traffic-by-day'), result.rows.map((row) => seconds(row[day])), names.map((name) => ({
    label: name.replaceAll('_', ' '),
    values: result.rows.map((row) => row[result.columns.indexOf(name)]),
  })))
}

function drawJourney(result) {
  const step = result.columns.indexOf('step')
  const people = result.columns.indexOf('people')
  draw($('#journey-chart'), result.rows.map((row) => row[step]), [
    { label: 'people', values: result.rows.map((row) => row[people]) },
  ], { time: false, bars: true })
}

function drawSegmentSizes(result) {
  const element = $('#segment-sizes')
  const [day, segment, members] = ['day', 'segment_id', 'members'].map((name) => result.columns.indexOf(name))
  const days = [...new Set(result.rows.map((row) => row[day]))].sort()
  const bySegment = new Map()
  for (const row of result.rows) {
    if (!bySegment.has(row[segment])) bySegment.set(row[segment], new Map())
    bySegment.get(row[segment]).set(row[day], row[members])
  }
  if (!bySegment.size) {
    charts.get(element.id)?.destroy()
    charts.delete(element.id)
    element.innerHTML = '<p class="empty">No segment of this site changed yet.</p>'
    return
  }
  element.replaceChildren()
  draw(element, days.map(seconds), [...bySegment].map(([label, values]) => ({
    label,
    values: days.map((d) => values.get(d) ?? null),
  })))
}

const DRAWINGS = {
  traffic_by_day: drawTrafficByDay,
  journey_funnel: drawJourney,
  segment_sizes: drawSegmentSizes,
}

async function refreshPeriod() {
  const filter = chosen()
  if (!filter.site || !filter.from || !filter.to) return
  history.replaceState(null, '', '?' + new URLSearchParams(filter))
  const tables = [...document.querySelectorAll('.table[data-query]')]
  const names = new Set([...tables.map((element) => element.dataset.query), ...Object.keys(DRAWINGS)])
  const failures = []
  await Promise.all([...names].map(async (name) => {
    try {
      const result = await rowsOf(name, filter)
      for (const element of tables.filter((table) => table.dataset.query === name)) renderTable(element, result)
      DRAWINGS[name]?.(result)
    } catch (error) {
      failures.push(error.message)
    }
  }))
  $('#status').textContent = failures.join('; ')
  document.body.dataset.loaded = 'true'
}

async function refreshLive() {
  const filter = chosen()
  if (!filter.site) return
  try {
    const [live, perMinute] = await Promise.all([rowsOf('live_visitors', filter), rowsOf('events_per_minute', filter)])
    for (const element of document.querySelectorAll('[data-query="live_visitors"][data-column]')) {
      const value = live.rows[0][live.columns.indexOf(element.dataset.column)]
      element.dataset.value = JSON.stringify(value)
      element.textContent = formatValue(element.dataset.column, value)
    }
    drawEventsPerMinute(perMinute)
  } catch (error) {
    $('#status').textContent = error.message
  }
}

async function start() {
  const asked = new URLSearchParams(window.location.search)
  const today = new Date()
  const monthAgo = new Date(today.getTime() - 29 * 86400 * 1000)
  $('#from').value = asked.get('from') || monthAgo.toISOString().slice(0, 10)
  $('#to').value = asked.get('to') || today.toISOString().slice(0, 10)
  const sites = await rowsOf('sites', {})
  const select = $('#site')
  for (const [site] of sites.rows) select.add(new Option(site, site))
  if (asked.get('site')) {
    if (![...select.options].some((option) => option.value === asked.get('site'))) {
      select.add(new Option(asked.get('site'), asked.get('site'))) // a site with no traffic yet
    }
    select.value = asked.get('site')
  }
  $('#filters').addEventListener('change', () => {
    refreshPeriod()
    refreshLive()
  })
  let resizing
  window.addEventListener('resize', () => {
    clearTimeout(resizing)
    resizing = setTimeout(() => {
      for (const [id, chart] of charts) chart.setSize({ width: Math.max(document.getElementById(id).clientWidth, 240), height: 220 })
    }, 150)
  })
  await Promise.all([refreshPeriod(), refreshLive()])
  setInterval(refreshLive, LIVE_SECONDS * 1000)
}

start().catch((error) => {
  $('#status').textContent = error.message
})
