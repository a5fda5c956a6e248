// The dashboard's views, in plain JavaScript against the JSON API under /dashboard/api
// (docs/dashboard.md). Everything that comes from the server is written with textContent, never
// parsed as HTML: event payloads are whatever a client or an app sent.

const API = '/dashboard/api';
/** Console rows kept, in memory and in the page. */
const MAX_ROWS = 1000;
const STATS_EVERY_MS = 1000;

const $ = (id) => document.getElementById(id);

/** A new element with `text` as its text and `props` as its properties. */
function el(tag, text, props) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (props) Object.assign(node, props);
  return node;
}

/** `n` and `noun`, plural unless n is 1: "1 event", "2 events". */
const count = (n, noun) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** A table row of `cells`, each written as text. */
function row(cells) {
  const tr = el('tr');
  for (const cell of cells) tr.append(el('td', cell));
  return tr;
}

class SignedOut extends Error {}

/** Calls the API; a 401 anywhere shows the sign-in form. Resolves with the JSON answer (or null). */
async function api(path, options = {}) {
  const init = { credentials: 'same-origin', ...options };
  if (options.body !== undefined) {
    init.method = options.method ?? 'POST';
    init.headers = { 'Content-Type': 'application/json' };
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(API + path, init);
  if (response.status === 401 && path !== '/login') {
    showSignIn();
    throw new SignedOut('signed out');
  }
  const text = await response.text();
  let answer = null;
  try {
    answer = text ? JSON.parse(text) : null;
  } catch {
    answer = { error: text };
  }
  if (!response.ok) throw new Error(answer?.error ?? `HTTP ${response.status}`);
  return answer;
}

/** Shows `err` in the page's notice line, unless it is the sign-out the form already shows. */
function notice(err) {
  if (err instanceof SignedOut) return;
  const line = $('notice');
  line.textContent = err ? String(err.message ?? err) : '';
  line.hidden = !err;
}

// ---- Signing in and out ----

const state = {
  app: undefined,
  view: 'console',
  realm: undefined,
  statsTimer: undefined,
  sessionTimer: undefined,
};
/** The longest delay a timer takes (2^31 - 1 ms); a longer one would fire at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Asks the server again once the session should have ended (`expiresAt`, ISO 8601), so that every
 * view, an idle one too, returns to the sign-in form; at most once a second, should the two clocks
 * disagree.
 */
function watchSession(expiresAt) {
  clearTimeout(state.sessionTimer);
  const delay = Math.min(Math.max(Date.parse(expiresAt) - Date.now(), 1000), MAX_DELAY_MS);
  state.sessionTimer = setTimeout(async () => {
    try {
      watchSession((await api('/session')).expiresAt);
    } catch (err) {
      notice(err);
      if (!(err instanceof SignedOut)) watchSession(expiresAt);
    }
  }, delay);
}

function showSignIn() {
  stopEverything();
  $('main').hidden = true;
  $('login').hidden = false;
}

async function start() {
  let session;
  try {
    session = await api('/session');
  } catch (err) {
    if (!(err instanceof SignedOut)) notice(err);
    return;
  }
  $('login').hidden = true;
  $('main').hidden = false;
  $('user').textContent = session.name;
  watchSession(session.expiresAt);
  try {
    const { apps } = await api('/apps');
    const select = $('app');
    select.replaceChildren(...apps.map((app) => el('option', app.id, { value: app.id })));
    const wanted = new URLSearchParams(location.hash.slice(1));
    if (apps.some((app) => app.id === wanted.get('app'))) select.value = wanted.get('app');
    state.app = select.value || undefined;
    const view = wanted.get('view');
    show(VIEWS[view] ? view : 'console');
  } catch (err) {
    notice(err);
  }
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(event.target);
  $('login-error').textContent = '';
  try {
    await api('/login', { body: { name: data.get('name'), password: data.get('password') } });
    event.target.reset();
    await start();
  } catch (err) {
    $('login-error').textContent = err.message;
  }
});

$('logout').addEventListener('click', async () => {
  try {
    await api('/logout', { body: {} });
  } catch (err) {
    notice(err);
  }
  showSignIn();
});

// ---- Views ----

/** What each view does when it is shown and when it is left. */
const VIEWS = {
  console: { enter: () => appConsole.open(state.app && `/apps/${encodeURIComponent(state.app)}/console`) },
  events: {},
  charts: { enter: startCharts, leave: stopCharts },
  channels: { enter: loadChannels },
  wamp: { enter: loadRealms, leave: () => realmConsole.close() },
};

function show(view) {
  if (state.view !== view) VIEWS[state.view]?.leave?.();
  state.view = view;
  for (const name of Object.keys(VIEWS)) $(`view-${name}`).hidden = name !== view;
  for (const tab of document.querySelectorAll('#tabs button')) {
    tab.setAttribute('aria-current', String(tab.dataset.view === view));
  }
  location.hash = new URLSearchParams({ app: state.app ?? '', view }).toString();
  notice(null);
  VIEWS[view].enter?.();
}

function stopEverything() {
  clearTimeout(state.sessionTimer);
  appConsole.close();
  realmConsole.close();
  stopCharts();
}

$('tabs').addEventListener('click', (event) => {
  const view = event.target.dataset?.view;
  if (view) show(view);
});

$('app').addEventListener('change', (event) => {
  state.app = event.target.value;
  appConsole.clear();
  if (state.view !== 'console') appConsole.close();
  $('channel-detail').hidden = true;
  show(state.view);
});

// ---- Debug console ----

/**
 * The columns of a console between Type and Node, each with its filter: an app's events name a
 * channel, an event and a socket id; a realm's a topic or procedure, a session and its authid.
 */
const APP_COLUMNS = [
  { name: 'channel', label: 'Channel', of: (e) => e.channel },
  { name: 'event', label: 'Event', of: (e) => e.event },
  { name: 'socketId', label: 'Socket id', of: (e) => e.socketId },
];
const REALM_COLUMNS = [
  { name: 'uri', label: 'Topic or procedure', of: (e) => e.topic ?? e.procedure },
  { name: 'session', label: 'Session', of: (e) => e.session },
  { name: 'authid', label: 'authid', of: (e) => e.userId },
];

/**
 * A console in `container`: the Server-Sent Events of one app or realm in a filterable table of
 * `columns`, newest first, at most MAX_ROWS events; each row opens to its whole event.
 */
function makeConsole(container, columns) {
  const events = [];
  /** The row of each event in the table, to take it out when the event goes. */
  let rows = new Map();
  let source;
  let url;
  /** The stream as the status tells it: connecting, live, reconnecting or stopped. */
  let connection = 'stopped';
  let paused = false;
  let waiting = [];

  const bar = el('div', null, { className: 'console-bar' });
  const filters = [...columns, { name: 'type', label: 'Type', of: (e) => e.type }].map((column) => {
    const input = el('input', null, { type: 'search', placeholder: column.label, name: column.name });
    input.setAttribute('aria-label', `Filter by ${column.label.toLowerCase()}`);
    input.addEventListener('input', render);
    bar.append(input);
    return { input, of: column.of };
  });
  const pause = el('button', 'Pause', { type: 'button', className: 'pause' });
  const clearButton = el('button', 'Clear', { type: 'button', className: 'clear' });
  const copy = el('button', 'Copy as JSON', { type: 'button', className: 'copy' });
  const status = el('span', '', { className: 'muted status' });
  bar.append(pause, clearButton, copy, status);
  const table = el('table', null, { className: 'events' });
  const head = el('thead');
  head.append(row(['Time', 'Type', ...columns.map((column) => column.label), 'Node']));
  const body = el('tbody');
  table.append(head, body);
  container.append(bar, table);
  const width = columns.length + 3;

  // A dropped marker shows whatever the filters say: the events it stands for may be ones they match.
  const matches = (e) =>
    e.type === 'dropped' ||
    filters.every(({ input, of }) => {
      const wanted = input.value.trim().toLowerCase();
      if (!wanted) return true;
      return String(of(e) ?? '')
        .toLowerCase()
        .includes(wanted);
    });

  function rowOf(e) {
    const tr = el('tr', null, { className: `event ${e.type === 'dropped' ? 'dropped' : ''}` });
    rows.set(e, tr);
    if (e.type === 'dropped') {
      tr.append(el('td', `${count(e.count, 'event')} dropped`, { colSpan: width }));
      return tr;
    }
    const time = new Date(e.time ?? Date.now()).toISOString().slice(11, 23);
    for (const cell of [time, e.type, ...columns.map((column) => column.of(e) ?? ''), e.node ?? '']) {
      tr.append(el('td', cell));
    }
    tr.tabIndex = 0;
    tr.title = 'Show the whole event';
    const toggle = () => {
      const next = tr.nextElementSibling;
      if (next?.classList.contains('payload')) return next.remove();
      const detail = el('tr', null, { className: 'payload' });
      const td = el('td', null, { colSpan: width });
      td.append(el('pre', JSON.stringify(e, null, 2)));
      detail.append(td);
      tr.after(detail);
    };
    tr.addEventListener('click', toggle);
    tr.addEventListener('keydown', (k) => {
      if (k.key === 'Enter' || k.key === ' ') {
        k.preventDefault();
        toggle();
      }
    });
    return tr;
  }

  function updateStatus() {
    const held = paused ? ` · paused, ${waiting.length} waiting` : '';
    status.textContent = `${count(events.length, 'event')} · ${connection}${held}`;
  }

  function render() {
    rows = new Map();
    body.replaceChildren(...events.filter(matches).map(rowOf));
    updateStatus();
  }

  function add(e) {
    events.unshift(e);
    if (matches(e)) body.prepend(rowOf(e));
    // The oldest events past the bound go, and their rows with them (with a row's open payload).
    while (events.length > MAX_ROWS) {
      const gone = events.pop();
      const tr = rows.get(gone);
      rows.delete(gone);
      if (tr?.nextElementSibling?.classList.contains('payload')) tr.nextElementSibling.remove();
      tr?.remove();
    }
    updateStatus();
  }

  function receive(message) {
    let e;
    try {
      e = JSON.parse(message.data);
    } catch {
      return;
    }
    if (paused) {
      waiting.push(e);
      if (waiting.length > MAX_ROWS) waiting.shift();
      updateStatus();
    } else add(e);
  }

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) {
      for (const e of waiting) add(e);
      waiting = [];
    }
    updateStatus();
  });
  const clear = () => {
    events.length = 0;
    waiting = [];
    render();
  };
  clearButton.addEventListener('click', clear);
  copy.addEventListener('click', async () => {
    const text = JSON.stringify(events.filter(matches), null, 2);
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = 'Copied';
    } catch {
      // Without clipboard access (plain HTTP on another host) the JSON opens for copying by hand.
      const area = el('textarea', text, { readOnly: true, rows: 10, className: 'copied' });
      container.querySelector('textarea.copied')?.remove();
      bar.after(area);
      area.select();
    }
  });

  return {
    /** Streams `path` (under the API), unless it already does; without a path, stops. */
    open(path) {
      if (!path) return this.close();
      if (source && url === path) return;
      this.close();
      url = path;
      const stream = new EventSource(API + path);
      source = stream;
      connection = 'connecting';
      // Live once the server answered: from then on, nothing that happens is missed.
      stream.addEventListener('open', () => {
        connection = 'live';
        updateStatus();
      });
      stream.addEventListener('message', receive);
      // EventSource reconnects by itself; a refusal (the session ended) is told apart by asking.
      stream.addEventListener('error', () => {
        if (stream !== source) return;
        if (stream.readyState === EventSource.CLOSED) {
          connection = 'stopped';
          api('/session').catch(notice);
        } else connection = 'reconnecting';
        updateStatus();
      });
      updateStatus();
    },
    close() {
      source?.close();
      source = undefined;
      url = undefined;
      connection = 'stopped';
      updateStatus();
    },
    clear,
  };
}

const appConsole = makeConsole($('app-console'), APP_COLUMNS);
const realmConsole = makeConsole($('realm-console'), REALM_COLUMNS);

// ---- Event creator ----

const eventForm = $('event-form');
eventForm.elements.data.addEventListener('input', (event) => {
  const area = event.target;
  try {
    JSON.parse(area.value);
    area.setCustomValidity('');
  } catch (err) {
    area.setCustomValidity(`Not JSON: ${err.message}`);
  }
});

eventForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const status = $('event-status');
  // The data goes as the HTTP API takes it, a string, checked here to be JSON as clients expect.
  const data = form.elements.data.value;
  try {
    JSON.parse(data);
  } catch (err) {
    status.textContent = `Data is not JSON: ${err.message}`;
    status.className = 'error';
    return;
  }
  try {
    await api(`/apps/${encodeURIComponent(state.app)}/events`, {
      body: { channel: form.elements.channel.value, event: form.elements.event.value, data },
    });
    status.textContent = `Sent ${form.elements.event.value} on ${form.elements.channel.value}`;
    status.className = 'ok';
  } catch (err) {
    status.textContent = err.message;
    status.className = 'error';
  }
});

// ---- Charts ----

const CHARTS = [
  { id: 'chart-connections', series: [['connections', '#2563eb']] },
  {
    id: 'chart-messages',
    series: [
      ['messagesIn', '#16a34a'],
      ['messagesOut', '#d97706'],
    ],
  },
  { id: 'chart-api', series: [['apiRequests', '#7c3aed']] },
  { id: 'chart-webhooks', series: [['webhookFailures', '#dc2626']] },
];

/**
 * A line chart of `samples` on `canvas`: one line per [field, colour] of `series`, time across (the
 * last 15 minutes), from zero up to the largest value, sized for the screen's pixel density.
 */
function lineChart(canvas, samples, series, spanMs) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  const height = canvas.clientHeight || 150;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  const left = 40;
  const bottom = height - 18;
  const top = 8;
  const right = width - 8;
  const end = samples.length ? samples[samples.length - 1].t : Date.now();
  const startTime = end - spanMs;
  let max = 0;
  for (const s of samples) for (const [field] of series) max = Math.max(max, Number(s[field]) || 0);
  max = max <= 0 ? 1 : niceCeiling(max);
  // Axes and grid: a line at zero, half and the top.
  ctx.strokeStyle = '#e5e7eb';
  ctx.fillStyle = '#6b7280';
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  for (const fraction of [0, 0.5, 1]) {
    const y = bottom - (bottom - top) * fraction;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(right, y);
    ctx.stroke();
    ctx.fillText(formatNumber(max * fraction), 2, y + 4);
  }
  ctx.fillText('-15 min', left, height - 4);
  ctx.fillText('now', right - 20, height - 4);
  const x = (t) => left + ((t - startTime) / spanMs) * (right - left);
  const y = (v) => bottom - ((Number(v) || 0) / max) * (bottom - top);
  ctx.lineWidth = 2;
  for (const [field, colour] of series) {
    ctx.strokeStyle = colour;
    ctx.beginPath();
    samples.forEach((s, i) => {
      if (i === 0) ctx.moveTo(x(s.t), y(s[field]));
      else ctx.lineTo(x(s.t), y(s[field]));
    });
    ctx.stroke();
  }
}

/** 1, 2 or 5 times a power of ten, at least `value`: round numbers for the top of an axis. */
function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

async function refreshCharts() {
  if (!state.app) return;
  try {
    const stats = await api(`/apps/${encodeURIComponent(state.app)}/stats`);
    const span = 15 * 60 * 1000;
    for (const chart of CHARTS) lineChart($(chart.id), stats.samples ?? [], chart.series, span);
  } catch (err) {
    notice(err);
    if (err instanceof SignedOut) stopCharts();
  }
}

function startCharts() {
  stopCharts();
  refreshCharts();
  state.statsTimer = setInterval(refreshCharts, STATS_EVERY_MS);
}

function stopCharts() {
  clearInterval(state.statsTimer);
  state.statsTimer = undefined;
}

// ---- Channels ----

let filterTimer;
$('channel-filter').addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(loadChannels, 200);
});

async function loadChannels() {
  if (!state.app) return;
  const filter = $('channel-filter').value;
  try {
    const query = filter ? `?filter=${encodeURIComponent(filter)}` : '';
    const { channels } = await api(`/apps/${encodeURIComponent(state.app)}/channels${query}`);
    const list = $('channel-list');
    list.replaceChildren(
      ...channels.map((channel) => {
        const tr = row([channel.name, channel.kind, channel.subscriptionCount]);
        tr.className = 'link';
        tr.tabIndex = 0;
        tr.addEventListener('click', () => showChannel(channel.name));
        tr.addEventListener('keydown', (k) => k.key === 'Enter' && showChannel(channel.name));
        return tr;
      }),
    );
    if (channels.length === 0) list.append(row(['No occupied channel']));
  } catch (err) {
    notice(err);
  }
}

async function showChannel(name) {
  const detail = $('channel-detail');
  try {
    const channel = await api(`/apps/${encodeURIComponent(state.app)}/channels/${encodeURIComponent(name)}`);
    const parts = [
      el('h3', channel.name),
      el('p', `${channel.kind}, ${channel.subscriptionCount} subscriptions`, { className: 'muted' }),
    ];
    if (channel.members) {
      parts.push(el('h4', `Members (${channel.members.length})`));
      const list = el('ul', null, { className: 'members' });
      for (const member of channel.members) {
        const item = el('li');
        item.append(el('strong', member.id), el('pre', JSON.stringify(member.info ?? null, null, 2)));
        list.append(item);
      }
      parts.push(list);
    }
    if (channel.cached !== undefined) {
      parts.push(el('h4', 'Cached event'));
      parts.push(channel.cached ? el('pre', JSON.stringify(channel.cached, null, 2)) : el('p', 'None'));
    }
    detail.replaceChildren(...parts);
    detail.hidden = false;
  } catch (err) {
    notice(err);
  }
}

// ---- WAMP ----

async function loadRealms() {
  try {
    const { realms } = await api('/realms');
    const list = $('realm-list');
    list.replaceChildren(
      ...realms.map((realm) => {
        const tr = row([realm.name, realm.sessions]);
        tr.className = 'link';
        tr.tabIndex = 0;
        tr.addEventListener('click', () => showRealm(realm.name));
        tr.addEventListener('keydown', (k) => k.key === 'Enter' && showRealm(realm.name));
        return tr;
      }),
    );
    if (realms.length === 0) list.append(row(['No realm has a session']));
    if (state.realm) await showRealm(state.realm);
  } catch (err) {
    notice(err);
  }
}

async function showRealm(name) {
  try {
    const realm = await api(`/realms/${encodeURIComponent(name)}`);
    state.realm = name;
    $('realm-name').textContent = realm.name;
    $('realm-sessions').replaceChildren(
      ...realm.sessions.map((s) => row([s.id, s.authid ?? '', s.authrole ?? ''])),
    );
    $('realm-subscriptions').replaceChildren(
      ...realm.subscriptions.map((s) => row([s.topic, s.match, s.subscribers])),
    );
    $('realm-registrations').replaceChildren(
      ...realm.registrations.map((r) => row([r.procedure, r.match, r.callees])),
    );
    $('realm-detail').hidden = false;
    realmConsole.open(`/realms/${encodeURIComponent(name)}/console`);
  } catch (err) {
    notice(err);
  }
}

start();
