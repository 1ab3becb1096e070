// CryptoScalp trader dashboard: plain ES module, no dependencies, no CDN.
// Data: REST for the initial state, then the live stream (WebSocket) for pnl, positions, fills and alerts.

const TOKEN_KEY = 'cryptoscalp.trader.token';
const MAX_POINTS = 900;
const MAX_FILLS = 25;

const $ = (id) => document.getElementById(id);

const state = {
  token: '',
  pnl: [],
  positions: new Map(),
  fills: [],
  alerts: new Map(),
  offsets: {},
  ws: null,
  retryMs: 500,
  statusTimer: 0,
};

function takeToken() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    // Keep the token out of the address bar and history.
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

async function api(path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${state.token}` } });
  if (res.status === 401) {
    signOut('Your token was refused or has expired.');
    throw new Error('unauthorized');
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return await res.json();
}

function fmt(n, digits = 2) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function signed(el, n, digits = 2) {
  el.textContent = fmt(n, digits);
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

function showPnl(p) {
  signed($('pnl-total'), p.total);
  signed($('pnl-realized'), p.realized);
  signed($('pnl-unrealized'), p.unrealized);
  $('pnl-fees').textContent = fmt(p.fees);
  $('pnl-drawdown').textContent = fmt(p.drawdown);
  $('pnl-winloss').textContent = `${p.wins}/${p.losses}`;
  const ts = typeof p.ts === 'number' && p.ts > 1e12 ? p.ts : Date.now();
  state.pnl.push({ ts, total: p.total });
  if (state.pnl.length > MAX_POINTS) state.pnl.shift();
  drawChart();
}

function drawChart() {
  const canvas = $('pnl-chart');
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 900;
  const h = canvas.clientHeight || 220;
  if (canvas.width !== Math.round(w * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pts = state.pnl;
  if (pts.length === 0) return;
  let min = 0;
  let max = 0;
  for (const p of pts) {
    if (p.total < min) min = p.total;
    if (p.total > max) max = p.total;
  }
  if (max - min < 1e-9) max = min + 1;
  const pad = 8;
  const x = (i) => pad + (pts.length === 1 ? 0 : (i / (pts.length - 1)) * (w - 2 * pad));
  const y = (v) => h - pad - ((v - min) / (max - min)) * (h - 2 * pad);
  ctx.strokeStyle = '#2d3742';
  ctx.beginPath();
  ctx.moveTo(0, y(0));
  ctx.lineTo(w, y(0));
  ctx.stroke();
  const last = pts[pts.length - 1].total;
  ctx.strokeStyle = last >= 0 ? '#3fb950' : '#f85149';
  ctx.lineWidth = 2;
  ctx.beginPath();
  for (let i = 0; i < pts.length; i++) {
    if (i === 0) ctx.moveTo(x(i), y(pts[i].total));
    else ctx.lineTo(x(i), y(pts[i].total));
  }
  ctx.stroke();
  ctx.fillStyle = '#8b97a3';
  ctx.font = '11px system-ui';
  ctx.fillText(fmt(max), 4, 12);
  ctx.fillText(fmt(min), 4, h - 4);
}

function renderPositions() {
  const body = $('positions').tBodies[0];
  body.replaceChildren();
  const rows = [...state.positions.values()].sort((a, b) => a.symbol.localeCompare(b.symbol));
  for (const p of rows) {
    const tr = document.createElement('tr');
    tr.dataset.symbol = p.symbol;
    cell(tr, p.symbol);
    cell(tr, fmt(p.qty, 4));
    cell(tr, fmt(p.avgPrice));
    cell(tr, fmt(p.markPrice));
    cell(tr, fmt(p.unrealizedPnl), p.unrealizedPnl >= 0 ? 'pos' : 'neg');
    cell(tr, fmt(p.realizedPnl), p.realizedPnl >= 0 ? 'pos' : 'neg');
    body.appendChild(tr);
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
    cell(tr, fmt(f.qty, 4));
    cell(tr, fmt(f.price));
    cell(tr, fmt(f.fee, 4));
    body.appendChild(tr);
  }
}

function addFill(f) {
  if (state.fills.some((x) => x.fillId === f.fillId)) return;
  state.fills.unshift(f);
  state.fills.length = Math.min(state.fills.length, MAX_FILLS);
  renderFills();
}

function renderAlerts() {
  const list = $('alerts');
  list.replaceChildren();
  const active = [...state.alerts.values()].filter((a) => a.state !== 'resolved');
  if (active.length === 0) {
    const li = document.createElement('li');
    li.textContent = 'No active alerts';
    list.appendChild(li);
  }
  for (const a of active) {
    const li = document.createElement('li');
    li.dataset.alertId = a.id;
    li.className = a.severity;
    li.textContent = `[${a.severity}] ${a.name}: ${a.summary ?? ''}${a.acknowledged ? ' (acknowledged)' : ''}${
      a.silenced ? ' (silenced)' : ''
    }`;
    list.appendChild(li);
  }
}

function renderStatus(s) {
  const body = $('latency').tBodies[0];
  body.replaceChildren();
  for (const [stage, p] of Object.entries(s.latency ?? {})) {
    const tr = document.createElement('tr');
    tr.dataset.stage = stage;
    cell(tr, stage);
    cell(tr, fmt(p.p50, 3));
    cell(tr, fmt(p.p99, 3));
    cell(tr, fmt(p.p999, 3));
    body.appendChild(tr);
  }
  const list = $('health');
  list.replaceChildren();
  for (const c of s.components ?? []) {
    const li = document.createElement('li');
    li.className = c.status;
    li.dataset.component = c.name;
    const st = document.createElement('span');
    st.className = 'status';
    st.textContent = c.status;
    li.append(st, ` ${c.name}${c.output ? `: ${c.output}` : ''}`);
    list.appendChild(li);
  }
}

function renderRisk(r) {
  const el = $('risk-mode');
  el.textContent = r.mode;
  el.className = `badge ${r.mode}`;
}

async function refreshStatus() {
  try {
    const [status, risk] = await Promise.all([api('/api/status'), api('/api/risk')]);
    renderStatus(status);
    renderRisk(risk);
  } catch {
    // Shown as stale; the next poll retries.
  }
}

const TOPICS = ['pnl', 'positions', 'fills', 'alerts'];

/** Reloads a topic's state over REST: after a resnapshot notice (the stream could not replay what we missed). */
async function reload(topic) {
  if (topic === 'pnl') showPnl(await api('/api/pnl'));
  else if (topic === 'positions') {
    state.positions.clear();
    for (const p of await api('/api/positions')) state.positions.set(p.symbol, p);
    renderPositions();
  } else if (topic === 'fills') {
    state.fills = (await api(`/api/fills?limit=${MAX_FILLS}`)).slice(0, MAX_FILLS);
    renderFills();
  } else if (topic === 'alerts') {
    state.alerts.clear();
    for (const a of await api('/api/alerts')) state.alerts.set(a.id, a);
    renderAlerts();
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
    for (const topic of TOPICS) {
      const seen = state.offsets[topic];
      ws.send(
        JSON.stringify(
          seen ? { op: 'subscribe', topic, offset: seen.offset, epoch: seen.epoch } : { op: 'subscribe', topic },
        ),
      );
    }
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
    if (msg.topic === 'pnl') showPnl(msg.data);
    else if (msg.topic === 'positions') {
      state.positions.set(msg.data.symbol, msg.data);
      renderPositions();
    } else if (msg.topic === 'fills') addFill(msg.data);
    else if (msg.topic === 'alerts') {
      state.alerts.set(msg.data.id, msg.data);
      renderAlerts();
    }
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
  $('user').textContent = `${me.sub} (${me.role})`;
  const [positions, fills, pnl, alerts] = await Promise.all([
    api('/api/positions'),
    api('/api/fills?limit=25'),
    api('/api/pnl'),
    api('/api/alerts'),
  ]);
  for (const p of positions) state.positions.set(p.symbol, p);
  renderPositions();
  state.fills = fills.slice(0, MAX_FILLS);
  renderFills();
  showPnl(pnl);
  for (const a of alerts) state.alerts.set(a.id, a);
  renderAlerts();
  await refreshStatus();
  state.statusTimer = setInterval(refreshStatus, 2_000);
  connect();
  document.body.dataset.ready = 'true';
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  clearInterval(state.statusTimer);
  if (state.ws) state.ws.close();
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.token = $('token-input').value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  start().catch((e) => signOut(String(e.message || e)));
});
$('logout').addEventListener('click', () => signOut(''));
window.addEventListener('resize', drawChart);

state.token = takeToken();
if (state.token) start().catch((e) => signOut(String(e.message || e)));
else signOut('');
