// CryptoScalp trader dashboard: a plain ES module, no build step, no CDN. Charts are TradingView Lightweight Charts,
// vendored and loaded before this module as the global `LightweightCharts` (the CSP allows only 'self').
// Data: REST for the initial state and a 2 s poll of status, risk and orders; the live stream (WebSocket) for prices,
// books, PnL, positions, fills and alerts.

const TOKEN_KEY = 'cryptoscalp.trader.token';
const MAX_POINTS = 3_600;
const MAX_FILLS = 25;
const MAX_MARKERS = 200;
const DEPTH_LEVELS = 10;
const POLL_MS = 2_000;
const OPEN_STATUSES = new Set(['submitted', 'accepted', 'partially_filled']);
const ROLE_RANK = { viewer: 0, trader: 1, admin: 2 };
const BASE_TOPICS = ['pnl', 'positions', 'fills', 'alerts'];
const CHART_COLORS = { up: '#3fb950', down: '#f85149', line: '#58a6ff', grid: '#222b35', text: '#8b97a3' };

const $ = (id) => document.getElementById(id);

/**
 * A password login's session: the refresh token lives in this module's memory only (never in sessionStorage or
 * localStorage), so nothing of it outlives the tab or survives a reload; a reload asks to sign in again. The access
 * token is renewed before it expires (`POST /api/auth/refresh` rotates both) and once more after a 401.
 */
const session = { refreshToken: '', timer: 0, refreshing: null };

const state = {
  token: '',
  role: 'viewer',
  symbols: [],
  selected: '',
  /** symbol -> [{ time, value }] (one point a second, ascending). */
  prices: new Map(),
  /** symbol -> fill markers on the price chart. */
  markers: new Map(),
  books: new Map(),
  pnlPoints: [],
  positions: new Map(),
  fills: [],
  alerts: new Map(),
  risk: undefined,
  offsets: {},
  ws: null,
  retryMs: 500,
  pollTimer: 0,
  charts: undefined,
};

// ---- formatting: the viewer's locale, fixed decimals, units ----

const formatters = new Map();
function numberFormat(digits, options = {}) {
  const key = `${digits}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (f === undefined) {
    f = new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits, ...options });
    formatters.set(key, f);
  }
  return f;
}

const isNum = (n) => typeof n === 'number' && Number.isFinite(n);

/** A number with fixed decimals, or '-' when there is none. */
function num(n, digits = 2) {
  return isNum(n) ? numberFormat(digits).format(n) : '-';
}

/** Decimals for a price: enough to see a tick move at its magnitude. */
function priceDigits(p) {
  const a = Math.abs(p);
  return a >= 100 ? 2 : a >= 1 ? 4 : 6;
}

function price(p) {
  return isNum(p) ? num(p, priceDigits(p)) : '-';
}

function percent(ratio, digits = 1) {
  return isNum(ratio) ? numberFormat(digits, { style: 'percent' }).format(ratio) : '-';
}

/** A duration given in milliseconds, in the unit that reads best: µs below 1 ms, ms below 1 s, else s. */
function duration(ms) {
  if (!isNum(ms)) return '-';
  if (ms < 1) return `${num(ms * 1_000, 0)} µs`;
  if (ms < 1_000) return `${num(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0)} ms`;
  return `${num(ms / 1_000, 2)} s`;
}

function signed(el, n, digits = 2) {
  el.textContent = num(n, digits);
  el.classList.toggle('pos', n > 0);
  el.classList.toggle('neg', n < 0);
}

function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function item(list, text, cls) {
  const li = document.createElement('li');
  li.textContent = text;
  if (cls) li.className = cls;
  list.appendChild(li);
  return li;
}

const can = (role) => ROLE_RANK[state.role] >= ROLE_RANK[role];

// ---- API ----

function takeToken() {
  // A link may carry the token in its fragment (`/#token=...`): browsers never send the fragment, so the token stays
  // out of request lines and proxy logs. It moves to sessionStorage and leaves the address bar and history.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromUrl = fragment.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    fragment.delete('token');
    const rest = fragment.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  }
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

async function api(path, body, retried = false) {
  const init = { headers: { authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  // A timer can run late (background tabs): a session renews once and the call is tried again.
  if (res.status === 401 && session.refreshToken && !retried && (await refreshSession())) return api(path, body, true);
  if (res.status === 401) {
    signOut('Your token was refused or has expired.');
    throw new Error('unauthorized');
  }
  if (!res.ok) {
    const err = await res.json().catch(() => ({}));
    throw new Error(err.message || `${path}: HTTP ${res.status}`);
  }
  return await res.json();
}

// ---- charts ----

function chartOptions(el) {
  return {
    width: el.clientWidth,
    height: el.clientHeight,
    // The library's logo injects a <style> element, which the CSP refuses: the page footer carries the attribution
    // notice and the link to tradingview.com that the licence's NOTICE asks for instead.
    layout: { background: { color: 'transparent' }, textColor: CHART_COLORS.text, attributionLogo: false },
    grid: { vertLines: { color: CHART_COLORS.grid }, horzLines: { color: CHART_COLORS.grid } },
    rightPriceScale: { borderColor: CHART_COLORS.grid, scaleMargins: { top: 0.1, bottom: 0.1 } },
    timeScale: { borderColor: CHART_COLORS.grid, timeVisible: true, secondsVisible: true },
    localization: { locale: navigator.language },
  };
}

function createCharts() {
  const LC = window.LightweightCharts;
  const priceEl = $('price-chart');
  const pnlEl = $('pnl-chart');
  const priceChart = LC.createChart(priceEl, chartOptions(priceEl));
  // Room above and below the line for the fill markers.
  priceChart.priceScale('right').applyOptions({ scaleMargins: { top: 0.2, bottom: 0.2 } });
  const priceSeries = priceChart.addSeries(LC.LineSeries, {
    color: CHART_COLORS.line,
    lineWidth: 2,
    priceFormat: { type: 'custom', formatter: price, minMove: 0.000001 },
  });
  const fillMarkers = LC.createSeriesMarkers(priceSeries, []);
  const pnlChart = LC.createChart(pnlEl, chartOptions(pnlEl));
  // A baseline at 0: green above, red below; the price scale fits the curve (not from 0), so small moves show.
  const pnlSeries = pnlChart.addSeries(LC.BaselineSeries, {
    baseValue: { type: 'price', price: 0 },
    topLineColor: CHART_COLORS.up,
    bottomLineColor: CHART_COLORS.down,
    topFillColor1: 'rgba(63, 185, 80, 0.25)',
    topFillColor2: 'rgba(63, 185, 80, 0.02)',
    bottomFillColor1: 'rgba(248, 81, 73, 0.02)',
    bottomFillColor2: 'rgba(248, 81, 73, 0.25)',
    lineWidth: 2,
    priceFormat: { type: 'custom', formatter: (v) => num(v, 2), minMove: 0.01 },
  });
  const resize = new ResizeObserver(() => {
    priceChart.resize(priceEl.clientWidth, priceEl.clientHeight);
    pnlChart.resize(pnlEl.clientWidth, pnlEl.clientHeight);
  });
  resize.observe(priceEl);
  resize.observe(pnlEl);
  return { priceChart, priceSeries, fillMarkers, pnlChart, pnlSeries, resize };
}

/** Shows the whole series while it is shorter than the chart is wide; after that the chart scrolls with new points. */
function follow(chart, points) {
  if (points.length * 6 < chart.timeScale().width()) chart.timeScale().fitContent();
}

/** Appends `value` at epoch-ms `ts` to a one-point-a-second series: a later point in the same second replaces it. */
function pushPoint(points, ts, value) {
  const time = Math.floor(ts / 1_000);
  const last = points[points.length - 1];
  if (last !== undefined && time < last.time) return undefined;
  const point = { time, value };
  if (last !== undefined && last.time === time) points[points.length - 1] = point;
  else points.push(point);
  if (points.length > MAX_POINTS) points.shift();
  return point;
}

function pricesOf(symbol) {
  let points = state.prices.get(symbol);
  if (points === undefined) {
    points = [];
    state.prices.set(symbol, points);
  }
  return points;
}

function onPrice(p) {
  const point = pushPoint(pricesOf(p.symbol), p.ts, p.price);
  if (point === undefined || p.symbol !== state.selected || !state.charts) return;
  state.charts.priceSeries.update(point);
  follow(state.charts.priceChart, pricesOf(p.symbol));
  $('price-last').textContent = price(p.price);
  $('price-chart').dataset.points = String(pricesOf(p.symbol).length);
}

/** The chart's marker for the fills of one side in one second (one arrow, with their count when more than one). */
function fillMarker({ time, side, count }) {
  const buy = side === 'buy';
  return {
    time,
    position: buy ? 'belowBar' : 'aboveBar',
    color: buy ? CHART_COLORS.up : CHART_COLORS.down,
    shape: buy ? 'arrowUp' : 'arrowDown',
    text: count > 1 ? `×${count}` : '',
  };
}

/** Marks a fill on its symbol's price chart; a fill before the first price point adds its own point. */
function markFill(f) {
  const points = pricesOf(f.symbol);
  const time = Math.floor(f.ts / 1_000);
  if (points.length === 0 || time < points[0].time) {
    const at = points.findIndex((p) => p.time >= time);
    if (at === -1) points.push({ time, value: f.price });
    else if (points[at].time !== time) points.splice(at, 0, { time, value: f.price });
  }
  let list = state.markers.get(f.symbol);
  if (list === undefined) {
    list = [];
    state.markers.set(f.symbol, list);
  }
  const same = list.find((m) => m.time === time && m.side === f.side);
  if (same !== undefined) same.count++;
  else {
    list.push({ time, side: f.side, count: 1 });
    list.sort((a, b) => a.time - b.time);
    if (list.length > MAX_MARKERS) list.shift();
  }
}

function showSymbol(symbol) {
  state.selected = symbol;
  for (const tab of $('price-symbols').children)
    tab.setAttribute('aria-selected', String(tab.dataset.symbol === symbol));
  $('depth-symbol').textContent = symbol;
  renderDepth();
  if (!state.charts) return;
  const points = pricesOf(symbol);
  state.charts.priceSeries.setData(points);
  state.charts.fillMarkers.setMarkers((state.markers.get(symbol) ?? []).map(fillMarker));
  state.charts.priceChart.timeScale().fitContent();
  const chart = $('price-chart');
  chart.dataset.points = String(points.length);
  chart.dataset.markers = String((state.markers.get(symbol) ?? []).length);
  $('price-last').textContent = points.length ? price(points[points.length - 1].value) : '';
}

function renderSymbolTabs() {
  const tabs = $('price-symbols');
  tabs.replaceChildren();
  for (const symbol of state.symbols) {
    const b = document.createElement('button');
    b.type = 'button';
    b.role = 'tab';
    b.dataset.symbol = symbol;
    b.textContent = symbol;
    b.addEventListener('click', () => showSymbol(symbol));
    tabs.appendChild(b);
  }
}

// ---- panels ----

function renderDepth() {
  const body = $('depth').tBodies[0];
  body.replaceChildren();
  const book = state.books.get(state.selected);
  if (book === undefined) return;
  const bids = book.bids.slice(0, DEPTH_LEVELS);
  const asks = book.asks.slice(0, DEPTH_LEVELS);
  let most = 0;
  for (const [, q] of [...bids, ...asks]) most = Math.max(most, q);
  for (let i = 0; i < Math.max(bids.length, asks.length); i++) {
    const tr = document.createElement('tr');
    const [bp, bq] = bids[i] ?? [];
    const [ap, aq] = asks[i] ?? [];
    depthCell(tr, bq, most, 'bid');
    cell(tr, price(bp), 'pos');
    cell(tr, price(ap), 'neg');
    depthCell(tr, aq, most, 'ask');
    body.appendChild(tr);
  }
}

/** A quantity cell with a bar behind it, its length the share of the largest level shown. */
function depthCell(tr, qty, most, side) {
  const td = cell(tr, num(qty, 4), `depth ${side}`);
  const bar = document.createElement('span');
  bar.className = 'depth-bar';
  // CSSOM, not a style attribute: the CSP allows no inline styles.
  bar.style.width = isNum(qty) && most > 0 ? `${(qty / most) * 100}%` : '0';
  td.appendChild(bar);
}

function showPnl(p) {
  signed($('pnl-total'), p.total);
  signed($('pnl-realized'), p.realized);
  signed($('pnl-unrealized'), p.unrealized);
  $('pnl-fees').textContent = num(p.fees);
  $('pnl-drawdown').textContent = num(p.drawdown);
  $('pnl-winloss').textContent = `${p.wins}/${p.losses}`;
  const ts = isNum(p.ts) && p.ts > 1e12 ? p.ts : Date.now();
  const point = pushPoint(state.pnlPoints, ts, p.total);
  if (point === undefined || !state.charts) return;
  state.charts.pnlSeries.update(point);
  follow(state.charts.pnlChart, state.pnlPoints);
  $('pnl-chart').dataset.points = String(state.pnlPoints.length);
}

function renderPositions() {
  const body = $('positions').tBodies[0];
  body.replaceChildren();
  const rows = [...state.positions.values()].sort((a, b) => a.symbol.localeCompare(b.symbol));
  for (const p of rows) {
    const tr = document.createElement('tr');
    tr.dataset.symbol = p.symbol;
    cell(tr, p.symbol);
    cell(tr, num(p.qty, 4), p.qty > 0 ? 'pos' : p.qty < 0 ? 'neg' : '');
    cell(tr, p.qty === 0 ? '-' : price(p.avgPrice));
    cell(tr, price(p.markPrice));
    cell(tr, num(p.unrealizedPnl), p.unrealizedPnl >= 0 ? 'pos' : 'neg');
    cell(tr, num(p.realizedPnl), p.realizedPnl >= 0 ? 'pos' : 'neg');
    body.appendChild(tr);
  }
  renderExposure();
}

/** Each position's notional against `risk.maxPositionNotional`, and the total against the symbols' combined limit. */
function renderExposure() {
  const list = $('exposure');
  list.replaceChildren();
  const limit = state.risk?.limits?.maxPositionNotional;
  if (!isNum(limit) || limit <= 0) return;
  for (const p of [...state.positions.values()].sort((a, b) => a.symbol.localeCompare(b.symbol))) {
    const ratio = Math.abs(p.notional) / limit;
    const li = item(list, '', ratio >= 0.9 ? 'hot' : ratio >= 0.6 ? 'warm' : '');
    li.dataset.symbol = p.symbol;
    const label = document.createElement('span');
    label.className = 'bar-label';
    label.textContent = `${p.symbol} ${num(Math.abs(p.notional), 0)} / ${num(limit, 0)} (${percent(ratio, 0)})`;
    const track = document.createElement('span');
    track.className = 'bar-track';
    const fill = document.createElement('span');
    fill.className = 'bar-fill';
    fill.style.width = `${Math.min(1, ratio) * 100}%`;
    track.appendChild(fill);
    li.append(label, track);
  }
}

function renderFills() {
  const body = $('fills').tBodies[0];
  body.replaceChildren();
  for (const f of state.fills) {
    const tr = document.createElement('tr');
    tr.dataset.fillId = f.fillId;
    cell(tr, new Date(f.ts).toLocaleTimeString());
    cell(tr, f.symbol);
    cell(tr, f.side, f.side === 'buy' ? 'pos' : 'neg');
    cell(tr, num(f.qty, 4));
    cell(tr, price(f.price));
    cell(tr, num(f.fee, 4));
    body.appendChild(tr);
  }
}

function addFill(f) {
  if (state.fills.some((x) => x.fillId === f.fillId)) return;
  state.fills.unshift(f);
  state.fills.length = Math.min(state.fills.length, MAX_FILLS);
  renderFills();
  markFill(f);
  if (f.symbol === state.selected) showSymbol(f.symbol);
}

function renderOrders(orders) {
  const body = $('orders').tBodies[0];
  body.replaceChildren();
  const open = orders.filter((o) => OPEN_STATUSES.has(o.status));
  $('orders-empty').hidden = open.length > 0;
  for (const o of open) {
    const tr = document.createElement('tr');
    tr.dataset.orderId = o.clientOrderId;
    cell(tr, o.symbol);
    cell(tr, o.side, o.side === 'buy' ? 'pos' : 'neg');
    cell(tr, num(o.qty - (o.filledQty ?? 0), 4));
    cell(tr, o.price === undefined ? o.type : price(o.price));
    tr.title = `${o.clientOrderId}: ${o.status.replace('_', ' ')}`;
    const td = cell(tr, '');
    if (can('trader')) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'small cancel';
      b.textContent = 'Cancel';
      b.addEventListener('click', () => act(b, `/api/orders/${encodeURIComponent(o.clientOrderId)}/cancel`, {}));
      td.appendChild(b);
    }
    body.appendChild(tr);
  }
}

function renderAlerts() {
  const list = $('alerts');
  list.replaceChildren();
  const active = [...state.alerts.values()].filter((a) => a.state !== 'resolved');
  if (active.length === 0) item(list, 'No active alerts', 'muted');
  for (const a of active) {
    const li = item(list, '', a.severity);
    li.dataset.alertId = a.id;
    const text = document.createElement('span');
    text.textContent = `[${a.severity}] ${a.name}: ${a.summary ?? ''}${a.silenced ? ' (silenced)' : ''}`;
    li.appendChild(text);
    if (a.acknowledged) {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'acknowledged';
      li.appendChild(tag);
    } else if (can('trader')) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'small ack';
      b.textContent = 'Acknowledge';
      b.addEventListener('click', async () => {
        if (await act(b, `/api/alerts/${encodeURIComponent(a.id)}/ack`, {})) {
          state.alerts.set(a.id, { ...a, acknowledged: true });
          renderAlerts();
        }
      });
      li.appendChild(b);
    }
  }
}

function renderModel(m) {
  const dl = $('model');
  dl.replaceChildren();
  const rows = m
    ? [
        ['Hit rate', percent(m.hitRate, 1), 'hitRate'],
        ['Confident predictions', num(m.confidentPredictions, 0), 'confident'],
        ['Samples', num(m.samples, 0), 'samples'],
        ['Decisions', num(m.decisions, 0), 'decisions'],
        ['Inference p50', duration(m.inferenceLatencyMs?.p50), 'inferenceP50'],
        ['Inference p99', duration(m.inferenceLatencyMs?.p99), 'inferenceP99'],
      ]
    : [['Model', 'not reported by this trader', 'none']];
  for (const [label, value, key] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    dd.dataset.key = key;
    dl.append(dt, dd);
  }
}

function renderStatus(s) {
  const body = $('latency').tBodies[0];
  body.replaceChildren();
  for (const [stage, p] of Object.entries(s.latency ?? {})) {
    const tr = document.createElement('tr');
    tr.dataset.stage = stage;
    cell(tr, stage);
    cell(tr, duration(p.p50));
    cell(tr, duration(p.p99));
    cell(tr, duration(p.p999));
    body.appendChild(tr);
  }
  const list = $('health');
  list.replaceChildren();
  for (const c of s.components ?? []) {
    const li = item(list, '', c.status);
    li.dataset.component = c.name;
    const st = document.createElement('span');
    st.className = 'status';
    st.textContent = c.status;
    li.append(st, ` ${c.name}${c.output ? `: ${c.output}` : ''}`);
  }
  renderModel(s.model);
  const symbols = s.symbols ?? [];
  if (symbols.length > 0 && symbols.join() !== state.symbols.join()) setSymbols(symbols);
}

function renderRisk(r) {
  state.risk = r;
  const el = $('risk-mode');
  el.textContent = r.mode;
  el.className = `badge ${r.mode}`;
  const since = isNum(r.since) && r.since > 0 ? ` since ${new Date(r.since).toLocaleTimeString()}` : '';
  const hold = r.releaseHold;
  $('risk-reason').textContent =
    r.mode !== 'RUNNING'
      ? `${r.mode}${since}: ${r.reason ?? ''}`
      : hold && hold.until > Date.now()
        ? `released at ${new Date(hold.releasedAt).toLocaleTimeString()}: the rules hold off until ${new Date(hold.until).toLocaleTimeString()} unless drawdown reaches ${num(hold.drawdownResumesAt, 2)} or the day's loss ${num(hold.dailyLossResumesAt, 2)}`
        : '';
  for (const b of $('kill-controls').querySelectorAll('button')) b.disabled = b.dataset.mode === r.mode;
  renderExposure();
}

// ---- commands ----

/** Runs a command from a button; the button is disabled meanwhile and the error, if any, shown on it. */
async function act(button, path, body) {
  button.disabled = true;
  button.title = '';
  try {
    await api(path, body);
    return true;
  } catch (e) {
    button.title = String(e.message || e);
    button.classList.add('failed');
    return false;
  } finally {
    button.disabled = false;
  }
}

/** Asks for confirmation and a reason in a modal dialog; resolves the reason, or `undefined` when cancelled. */
function confirmWithReason(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  $('confirm-reason').value = '';
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => resolve(dialog.returnValue === 'ok' ? $('confirm-reason').value.trim() || undefined : undefined),
      { once: true },
    );
  });
}

const KILL_TEXT = {
  REDUCING: 'Engage the kill switch in REDUCING mode? Only risk-reducing orders will be sent.',
  HALTED: 'HALT trading? No new orders will be sent; open orders can only be cancelled.',
  RUNNING: 'Release the kill switch and resume normal trading?',
};

async function changeKillSwitch(button) {
  const mode = button.dataset.mode;
  const reason = await confirmWithReason(KILL_TEXT[mode]);
  if (reason === undefined) return;
  const ok =
    mode === 'RUNNING'
      ? await act(button, '/api/kill-switch/release', { reason })
      : await act(button, '/api/kill-switch', { mode, reason });
  if (ok) await refresh();
}

// ---- data flow ----

async function refresh() {
  try {
    const [status, risk, orders] = await Promise.all([
      api('/api/status'),
      api('/api/risk'),
      api('/api/orders?limit=200'),
    ]);
    renderRisk(risk);
    renderStatus(status);
    renderOrders(orders);
  } catch {
    // Shown as stale; the next poll retries.
  }
}

function setSymbols(symbols) {
  const fresh = symbols.filter((s) => !state.symbols.includes(s));
  state.symbols = [...symbols];
  renderSymbolTabs();
  showSymbol(state.symbols.includes(state.selected) ? state.selected : state.symbols[0]);
  if (state.ws?.readyState === WebSocket.OPEN) for (const s of fresh) subscribeSymbol(state.ws, s);
}

function subscribe(ws, topic) {
  const seen = state.offsets[topic];
  ws.send(
    JSON.stringify(
      seen ? { op: 'subscribe', topic, offset: seen.offset, epoch: seen.epoch } : { op: 'subscribe', topic },
    ),
  );
}

function subscribeSymbol(ws, symbol) {
  subscribe(ws, `prices.${symbol}`);
  subscribe(ws, `book.${symbol}`);
}

/** Reloads a topic's state over REST: after a resnapshot notice (the stream could not replay what we missed). */
async function reload(topic) {
  if (topic === 'pnl') showPnl(await api('/api/pnl'));
  else if (topic === 'positions') {
    state.positions.clear();
    for (const p of await api('/api/positions')) state.positions.set(p.symbol, p);
    renderPositions();
  } else if (topic === 'fills') {
    for (const f of (await api(`/api/fills?limit=${MAX_FILLS}`)).reverse()) addFill(f);
  } else if (topic === 'alerts') {
    state.alerts.clear();
    for (const a of await api('/api/alerts')) state.alerts.set(a.id, a);
    renderAlerts();
  }
  // Prices and books are live views: the next message replaces what was missed.
}

function onMessage(msg) {
  const { topic, data } = msg;
  if (topic === 'pnl') showPnl(data);
  else if (topic === 'positions') {
    state.positions.set(data.symbol, data);
    renderPositions();
  } else if (topic === 'fills') addFill(data);
  else if (topic === 'alerts') {
    state.alerts.set(data.id, data);
    renderAlerts();
  } else if (topic.startsWith('prices.')) onPrice(data);
  else if (topic.startsWith('book.')) {
    state.books.set(data.symbol, data);
    if (data.symbol === state.selected) renderDepth();
  }
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // Browsers cannot set an Authorization header on a WebSocket: the token travels as a subprotocol.
  const ws = new WebSocket(`${proto}//${location.host}/api/stream`, ['bearer', state.token]);
  state.ws = ws;
  const conn = $('conn-state');
  ws.onopen = () => {
    state.retryMs = 500;
    conn.textContent = 'live';
    conn.className = 'badge on';
    // Resume each topic from the last offset seen (same epoch), so nothing is missed across reconnects.
    for (const topic of BASE_TOPICS) subscribe(ws, topic);
    for (const symbol of state.symbols) subscribeSymbol(ws, symbol);
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === 'resnapshot') {
      state.offsets[msg.topic] = { epoch: msg.epoch, offset: msg.offset };
      reload(msg.topic).catch(() => {});
      return;
    }
    if (msg.type === 'subscribed') {
      if (!state.offsets[msg.topic]) state.offsets[msg.topic] = { epoch: msg.epoch, offset: msg.offset };
      return;
    }
    if (msg.type !== 'message') return;
    state.offsets[msg.topic] = { epoch: msg.epoch, offset: msg.offset };
    onMessage(msg);
  };
  ws.onclose = () => {
    conn.textContent = 'reconnecting';
    conn.className = 'badge off';
    if (!state.token) return;
    setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 10_000);
  };
}

async function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  const me = await api('/api/me');
  state.role = me.role in ROLE_RANK ? me.role : 'viewer';
  $('user').textContent = `${me.sub} (${me.role})`;
  // Controls the role cannot use are not shown at all (the API refuses them anyway).
  $('kill-controls').hidden = !can('admin');
  state.charts ??= createCharts();
  const [positions, fills, pnl, alerts] = await Promise.all([
    api('/api/positions'),
    api(`/api/fills?limit=${MAX_FILLS}`),
    api('/api/pnl'),
    api('/api/alerts'),
  ]);
  for (const p of positions) state.positions.set(p.symbol, p);
  for (const f of [...fills].reverse()) addFill(f);
  showPnl(pnl);
  for (const a of alerts) state.alerts.set(a.id, a);
  renderAlerts();
  await refresh();
  renderPositions();
  state.pollTimer = setInterval(refresh, POLL_MS);
  connect();
  document.body.dataset.ready = 'true';
}

// ---- people login: password + TOTP (or a recovery code) -> a session ----

/** Posts a JSON body to a public auth route; resolves with the status and the parsed body. */
async function authPost(path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body), keepalive: true });
  return { status: res.status, body: await res.json().catch(() => ({})) };
}

function takeSession(pair) {
  state.token = pair.accessToken;
  session.refreshToken = pair.refreshToken;
  clearTimeout(session.timer);
  // Renewed a minute (at most a fifth of its life) before the access token expires.
  const lead = Math.min(60, pair.expiresIn / 5);
  session.timer = setTimeout(() => refreshSession(), Math.max(1, pair.expiresIn - lead) * 1000);
}

/** Rotates the pair; true when it worked. A refused refresh (idle, expired, revoked) signs out. */
function refreshSession() {
  session.refreshing ??= (async () => {
    try {
      const r = await authPost('/api/auth/refresh', { refreshToken: session.refreshToken });
      if (r.status !== 200) {
        session.refreshToken = '';
        signOut('Your session has ended: sign in again.');
        return false;
      }
      takeSession(r.body);
      document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
      return true;
    } catch {
      return false;
    } finally {
      session.refreshing = null;
    }
  })();
  return session.refreshing;
}

async function passwordLogin(username, password, code) {
  const c = code.replace(/\s/g, '');
  const body = /^[0-9]{6}$/.test(c)
    ? { username, password, totp: c }
    : { username, password, recoveryCode: code.trim() };
  const r = await authPost('/api/auth/login', body);
  if (r.status === 200) return r.body;
  if (r.status === 401) throw new Error('Wrong username, password or code.');
  if (r.status === 429) throw new Error('Too many attempts: wait a minute and try again.');
  throw new Error(r.body.message || `Sign-in failed (HTTP ${r.status}).`);
}

/** Ends the session on the server (its access token is refused at once), then locally. */
function endSession() {
  if (session.refreshToken && state.token) authPost('/api/auth/logout', {}, state.token).catch(() => {});
  session.refreshToken = '';
  clearTimeout(session.timer);
}

function signOut(message) {
  endSession();
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  delete document.body.dataset.ready;
  clearInterval(state.pollTimer);
  if (state.ws) state.ws.close();
  $('app').hidden = true;
  $('logout').hidden = true;
  $('kill-controls').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.token = $('token-input').value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  start().catch((e) => signOut(String(e.message || e)));
});
$('password-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const button = $('password-submit');
  button.disabled = true;
  $('login-error').textContent = '';
  passwordLogin($('login-username').value.trim(), $('login-password').value, $('login-code').value)
    .then((pair) => {
      $('login-password').value = '';
      $('login-code').value = '';
      takeSession(pair);
      return start();
    })
    .catch((e) => signOut(String(e.message || e)))
    .finally(() => {
      button.disabled = false;
    });
});
$('logout').addEventListener('click', () => signOut(''));
for (const b of $('kill-controls').querySelectorAll('button')) b.addEventListener('click', () => changeKillSwitch(b));

state.token = takeToken();
if (state.token) start().catch((e) => signOut(String(e.message || e)));
else signOut('');
