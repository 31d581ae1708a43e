// The dashboard page: the container list from one event stream, the selected container's log and
// stats from two more, and the action buttons (POST, same origin; the cookie carries the token).
// Everything a container controls (names, images, log lines) goes into the page as text, never
// as markup.
'use strict';

/* global BerthChart, formatBytes */
const $ = (id) => document.getElementById(id);
const MAX_LOG_LINES = 2000;

const state = {
  containers: [],
  /** server time minus ours, so uptime is counted on the daemon's clock */
  skewMs: 0,
  selected: null,
  selectedRunning: false,
  logs: null,
  stats: null,
  lastNet: null,
};

const charts = {
  cpu: new BerthChart($('chart-cpu'), { colors: ['#2463eb'], format: (v) => `${v.toFixed(v < 10 ? 1 : 0)}%` }),
  mem: new BerthChart($('chart-mem'), { colors: ['#8b5cf6'], format: formatBytes }),
  net: new BerthChart($('chart-net'), { colors: ['#1a8a4a', '#dd6b20'], format: (v) => `${formatBytes(v)}/s` }),
};

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function uptime(c) {
  if (!c.startedAt) return '';
  const s = Math.max(0, Math.floor((Date.now() + state.skewMs - Date.parse(c.startedAt)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function showError(message) {
  const e = $('error');
  e.textContent = message;
  e.hidden = !message;
}

async function act(c, action) {
  if (action === 'remove' && !window.confirm(`Remove container ${c.name}?`)) return;
  showError('');
  try {
    const r = await fetch(`/api/containers/${encodeURIComponent(c.id)}/${action}`, { method: 'POST', credentials: 'same-origin' });
    if (!r.ok) {
      const body = await r.json().catch(() => ({ message: r.statusText }));
      showError(`${action} ${c.name}: ${body.message}`);
    }
  } catch (err) {
    showError(`${action} ${c.name}: ${err}`);
  }
}

function actionButtons(c) {
  const td = el('td');
  const running = c.state === 'running' || c.state === 'restarting' || c.state === 'paused';
  const buttons = [
    ['start', !running],
    ['stop', running],
    ['restart', true],
    ['remove', c.state !== 'removing'],
  ];
  for (const [action, enabled] of buttons) {
    const b = el('button', action, action === 'remove' ? 'danger' : '');
    b.dataset.action = action;
    b.disabled = !enabled;
    b.addEventListener('click', (ev) => {
      ev.stopPropagation();
      act(c, action);
    });
    td.append(b);
  }
  return td;
}

function renderList() {
  const tbody = $('containers').tBodies[0];
  const rows = state.containers.map((c) => {
    const tr = el('tr');
    tr.dataset.id = c.id;
    tr.dataset.name = c.name;
    tr.dataset.state = c.state;
    if (c.id === state.selected) tr.classList.add('selected');
    tr.append(
      el('td', c.name, 'name'),
      el('td', c.state, `state state-${c.state}`),
      el('td', c.health === 'none' ? '' : c.health, `health health-${c.health}`),
      el('td', c.image, 'image'),
      el('td', c.ports.join(', '), 'ports'),
      el('td', uptime(c), 'uptime'),
      actionButtons(c),
    );
    tr.addEventListener('click', () => select(c.id));
    return tr;
  });
  tbody.replaceChildren(...rows);
  $('empty').hidden = state.containers.length > 0;
}

function logNote(text) {
  $('logs').append(el('span', `${text}\n`, 'note'));
}

function appendLog(line) {
  const pre = $('logs');
  const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 20;
  const text = line.text.endsWith('\n') ? line.text : `${line.text}\n`;
  pre.append(el('span', text, line.stream === 'stderr' ? 'stderr' : undefined));
  while (pre.childNodes.length > MAX_LOG_LINES) pre.firstChild.remove();
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function closeStreams() {
  if (state.logs) state.logs.close();
  if (state.stats) state.stats.close();
  state.logs = null;
  state.stats = null;
}

function openStreams(id) {
  closeStreams();
  $('logs').replaceChildren();
  for (const c of Object.values(charts)) c.reset();
  delete $('chart-cpu').dataset.samples;
  for (const id of ['cpu-now', 'mem-now', 'net-now']) $(id).textContent = '';
  state.lastNet = null;
  const q = `id=${encodeURIComponent(id)}`;
  const logs = new EventSource(`/api/logs?${q}`);
  logs.addEventListener('line', (ev) => appendLog(JSON.parse(ev.data)));
  logs.addEventListener('end', () => {
    logNote('— log ended: the container is not running —');
    logs.close();
  });
  logs.onerror = () => {
    if (logs.readyState === EventSource.CLOSED) logNote('— log stream closed —');
  };
  state.logs = logs;
  const stats = new EventSource(`/api/stats?${q}`);
  stats.addEventListener('sample', (ev) => onSample(JSON.parse(ev.data)));
  stats.addEventListener('end', () => stats.close());
  state.stats = stats;
}

function onSample(s) {
  const canvas = $('chart-cpu');
  canvas.dataset.samples = String(Number(canvas.dataset.samples ?? 0) + 1);
  charts.cpu.push([s.cpuPercent]);
  $('cpu-now').textContent = `${s.cpuPercent.toFixed(1)}%`;
  charts.mem.push([s.memUsage]);
  $('mem-now').textContent = s.memLimit > 0 ? `${formatBytes(s.memUsage)} / ${formatBytes(s.memLimit)}` : formatBytes(s.memUsage);
  const t = Date.parse(s.read);
  const prev = state.lastNet;
  state.lastNet = { t, rx: s.rxBytes, tx: s.txBytes };
  if (prev && t > prev.t) {
    const secs = (t - prev.t) / 1000;
    const rx = Math.max(0, (s.rxBytes - prev.rx) / secs);
    const tx = Math.max(0, (s.txBytes - prev.tx) / secs);
    charts.net.push([rx, tx]);
    $('net-now').textContent = `↓ ${formatBytes(rx)}/s ↑ ${formatBytes(tx)}/s`;
  }
}

function select(id) {
  state.selected = id;
  const c = state.containers.find((x) => x.id === id);
  state.selectedRunning = c ? c.state === 'running' : false;
  $('detail').hidden = false;
  renderDetail();
  renderList();
  openStreams(id);
}

function detailText(c) {
  const up = uptime(c);
  return `${c.image} · ${c.state}${up ? ` for ${up}` : ''}${c.health === 'none' ? '' : ` · ${c.health}`}`;
}

function renderDetail() {
  const c = state.containers.find((x) => x.id === state.selected);
  if (!c) {
    $('detail-name').textContent = '(removed)';
    $('detail-state').textContent = '';
    closeStreams();
    return;
  }
  $('detail-name').textContent = c.name;
  $('detail-state').textContent = detailText(c);
  const running = c.state === 'running';
  // Started again: its new output and figures come on new streams. Stopped: no more figures.
  if (running && !state.selectedRunning) openStreams(c.id);
  if (!running && state.selectedRunning && state.stats) {
    state.stats.close();
    state.stats = null;
  }
  state.selectedRunning = running;
}

function connect() {
  const es = new EventSource('/api/containers');
  es.addEventListener('containers', (ev) => {
    const msg = JSON.parse(ev.data);
    state.skewMs = Date.parse(msg.now) - Date.now();
    state.containers = msg.containers;
    $('conn').textContent = 'live';
    $('conn').className = 'conn on';
    renderList();
    if (state.selected) renderDetail();
  });
  es.onerror = () => {
    $('conn').textContent = es.readyState === EventSource.CLOSED ? 'disconnected: reload with the URL from berthd’s log' : 'reconnecting…';
    $('conn').className = 'conn off';
  };
}

setInterval(() => {
  for (const tr of $('containers').tBodies[0].rows) {
    const c = state.containers.find((x) => x.id === tr.dataset.id);
    const cell = tr.querySelector('td.uptime');
    if (c && cell) cell.textContent = uptime(c);
  }
  const c = state.containers.find((x) => x.id === state.selected);
  if (c) $('detail-state').textContent = detailText(c);
}, 1000);

connect();
