// nestjs-snowplow event viewer: plain JavaScript, no build, no request but to this collector.
// The list mirrors the collector's store through GET /micro/stream (Server-Sent Events): a
// snapshot, then batches of new events and resets. Only the rows in view are in the DOM.
(function () {
  'use strict';

  const ROW_HEIGHT = 32;
  const OVERSCAN = 8;
  const { h, shortSchema, summarize, renderDetail, faultText } = window.SnowplowViewer;
  const $ = (id) => document.getElementById(id);
  const list = $('list');
  const spacer = $('list-spacer');
  const inputs = { app: $('filter-app'), type: $('filter-type'), status: $('filter-status'), q: $('filter-text') };

  /** Every event the collector keeps, oldest first. */
  let records = [];
  /** The records the filters let through, newest first. */
  let view = [];
  let counts = { total: 0, good: 0, bad: 0, dropped: 0 };
  let filters = readFiltersFromUrl();
  let selectedId = null;
  let renderQueued = false;
  const appIds = new Set();

  /** Adds the record's summary (`record.view`), and its app id to the filter's suggestions. */
  function prepare(record) {
    record.view = summarize(record);
    if (record.view.app) appIds.add(record.view.app);
    return record;
  }
  function searchText(record) {
    record.view.json ??= JSON.stringify(record.event).toLowerCase();
    return record.view.json;
  }

  function matches(record) {
    const v = record.view;
    if (filters.status && record.kind !== filters.status) return false;
    if (filters.app && !v.app.toLowerCase().includes(filters.app.toLowerCase())) return false;
    if (filters.type && !v.typeText.includes(filters.type.toLowerCase())) return false;
    if (filters.q && !searchText(record).includes(filters.q.toLowerCase())) return false;
    return true;
  }

  function rebuildView() {
    view = [];
    for (let i = records.length - 1; i >= 0; i--) if (matches(records[i])) view.push(records[i]);
  }

  // --- the stream ---------------------------------------------------------------------------

  function applyCounts(next) {
    counts = next;
    // The store keeps the newest counts.total events; the older ones were dropped.
    const excess = records.length - counts.total;
    if (excess > 0) {
      const oldestKept = records[excess].id;
      records = records.slice(excess);
      while (view.length > 0 && view[view.length - 1].id < oldestKept) view.pop();
    }
  }

  function onSnapshot(message) {
    appIds.clear();
    records = message.records.map(prepare);
    rebuildView();
    applyCounts(message.counts);
    if (selectedId !== null && !records.some((r) => r.id === selectedId)) select(null);
    scheduleRender();
  }

  function onEvents(message) {
    const added = message.records.map(prepare);
    records.push(...added);
    const shown = added.filter(matches).reverse();
    if (shown.length > 0) {
      view = shown.concat(view);
      // Keep the rows the reader is looking at in place when new ones arrive above them.
      if (list.scrollTop > 0) {
        spacer.style.height = `${view.length * ROW_HEIGHT}px`;
        list.scrollTop += shown.length * ROW_HEIGHT;
      }
    }
    applyCounts(message.counts);
    scheduleRender();
  }

  function onReset(message) {
    records = [];
    view = [];
    appIds.clear();
    applyCounts(message.counts);
    select(null);
    scheduleRender();
  }

  function connect() {
    const source = new EventSource('/micro/stream');
    const status = $('connection');
    const handle = (fn) => (event) => fn(JSON.parse(event.data));
    source.addEventListener('snapshot', handle(onSnapshot));
    source.addEventListener('events', handle(onEvents));
    source.addEventListener('reset', handle(onReset));
    const { onRequests, onRequest, onFaults } = window.SnowplowViewer;
    source.addEventListener('requests', handle(onRequests));
    source.addEventListener('request', handle(onRequest));
    source.addEventListener('faults', handle(onFaults));
    source.addEventListener('open', () => (status.textContent = 'live'));
    source.addEventListener('error', () => (status.textContent = 'reconnecting…'));
  }

  // --- rendering ----------------------------------------------------------------------------

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }

  function renderCounters() {
    $('count-total').textContent = counts.total.toLocaleString('en');
    $('count-good').textContent = counts.good.toLocaleString('en');
    $('count-bad').textContent = counts.bad.toLocaleString('en');
    $('dropped-box').hidden = !counts.dropped;
    $('count-dropped').textContent = (counts.dropped || 0).toLocaleString('en');
    let billingCount = 0;
    const units = new Map();
    for (const record of records) {
      const billing = record.kind === 'good' && record.view.billing;
      if (!billing) continue;
      billingCount++;
      const unit = String(billing.unit_of_measure || 'unit');
      units.set(unit, (units.get(unit) || 0) + (Number(billing.quantity) || 0));
    }
    $('count-billing').textContent = billingCount.toLocaleString('en');
    const sums = [...units].map(([unit, sum]) => `${+sum.toFixed(6)} ${unit}`);
    $('billing-units').textContent = sums.length > 0 ? sums.join(' · ') : 'none';
    const options = [...appIds].sort().map((id) => h('option', { value: id }));
    $('app-ids').replaceChildren(...options);
  }

  function rowFor(record, index) {
    const v = record.view;
    const event = [];
    if (record.fault) {
      const title = `stored from a faulted request (${faultText(record.fault)})`;
      event.push(h('span', { class: 'badge faulted', title }, 'faulted'));
    }
    if (v.billing) {
      const b = v.billing;
      event.push(h('span', { class: 'badge billing' }, 'billing'));
      event.push(`${b.event_type} × ${b.quantity} ${b.unit_of_measure || ''} · `);
    }
    event.push(h('span', { class: 'label' }, v.label || ''));
    if (v.schema) event.push(h('span', { class: 'schema' }, shortSchema(v.schema)));
    return h(
      'div',
      {
        class: 'row',
        role: 'option',
        id: `event-${record.id}`,
        'aria-selected': record.id === selectedId ? 'true' : 'false',
        'aria-posinset': index + 1,
        'aria-setsize': view.length,
        'data-id': record.id,
      },
      h('span', { class: 'time mono' }, v.time),
      h('span', { class: 'app', title: v.app }, v.app || '–'),
      h('span', { class: 'event', title: `${v.label} ${v.schema}` }, event),
      h('span', {}, h('span', { class: `badge ${record.kind}` }, record.kind)),
    );
  }

  function renderRows() {
    spacer.style.height = `${view.length * ROW_HEIGHT}px`;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(view.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const rows = [];
    for (let i = first; i < last; i++) {
      const row = rowFor(view[i], i);
      // Set through the CSSOM: the page's Content-Security-Policy refuses inline style attributes.
      row.style.top = `${i * ROW_HEIGHT}px`;
      rows.push(row);
    }
    spacer.replaceChildren(...rows);
    const active = view.findIndex((r) => r.id === selectedId);
    if (active >= first && active < last) list.setAttribute('aria-activedescendant', `event-${selectedId}`);
    else list.removeAttribute('aria-activedescendant');
    $('empty').hidden = view.length > 0;
    $('empty').textContent =
      records.length === 0
        ? 'No events yet: they appear here as the collector receives them.'
        : 'No event matches the filters.';
    const filtered = filters.app || filters.type || filters.status || filters.q;
    $('shown').textContent = filtered
      ? `${view.length.toLocaleString('en')} of ${records.length.toLocaleString('en')} events shown`
      : `${records.length.toLocaleString('en')} events`;
  }

  function render() {
    renderCounters();
    renderRows();
  }

  // --- selection ----------------------------------------------------------------------------

  function select(id) {
    selectedId = id;
    renderDetail(id === null ? null : records.find((r) => r.id === id));
    scheduleRender();
  }

  // --- keyboard and mouse -------------------------------------------------------------------

  function moveTo(index) {
    if (view.length === 0) return;
    const i = Math.max(0, Math.min(view.length - 1, index));
    const top = i * ROW_HEIGHT;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW_HEIGHT > list.scrollTop + list.clientHeight)
      list.scrollTop = top + ROW_HEIGHT - list.clientHeight;
    select(view[i].id);
  }

  list.addEventListener('keydown', (event) => {
    const current = view.findIndex((r) => r.id === selectedId);
    const page = Math.max(1, Math.floor(list.clientHeight / ROW_HEIGHT) - 1);
    const keys = {
      ArrowDown: current + 1,
      ArrowUp: current <= 0 ? 0 : current - 1,
      PageDown: current + page,
      PageUp: current - page,
      Home: 0,
      End: view.length - 1,
      Enter: current < 0 ? 0 : current,
    };
    if (!(event.key in keys)) return;
    event.preventDefault();
    moveTo(keys[event.key]);
  });
  // Reaching the list with the keyboard selects its first row; a click selects the clicked one.
  list.addEventListener('focus', () => {
    if (selectedId === null && view.length > 0 && list.matches(':focus-visible')) moveTo(0);
  });
  // On mousedown, not click: a render between mousedown and mouseup (new events) replaces the rows.
  list.addEventListener('mousedown', (event) => {
    if (event.button !== 0) return;
    const row = event.target.closest('.row[data-id]');
    if (row) select(Number(row.dataset.id));
  });
  list.addEventListener('scroll', scheduleRender);
  window.addEventListener('resize', scheduleRender);

  // --- filters, kept in the URL -------------------------------------------------------------

  function readFiltersFromUrl() {
    const params = new URLSearchParams(location.search);
    const status = params.get('status');
    return {
      app: params.get('app') || '',
      type: params.get('type') || '',
      status: status === 'good' || status === 'bad' ? status : '',
      q: params.get('q') || '',
    };
  }

  function writeFiltersToUrl() {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
    const query = params.toString();
    history.replaceState(null, '', query ? `?${query}` : location.pathname);
  }

  function showFilters() {
    for (const [key, input] of Object.entries(inputs)) input.value = filters[key];
  }

  function onFilterInput() {
    filters = Object.fromEntries(Object.entries(inputs).map(([key, input]) => [key, input.value.trim()]));
    writeFiltersToUrl();
    rebuildView();
    list.scrollTop = 0;
    scheduleRender();
  }

  for (const input of Object.values(inputs)) input.addEventListener('input', onFilterInput);
  $('filters').addEventListener('submit', (event) => event.preventDefault());
  $('clear-filters').addEventListener('click', () => {
    for (const input of Object.values(inputs)) input.value = '';
    onFilterInput();
  });
  window.addEventListener('popstate', () => {
    filters = readFiltersFromUrl();
    showFilters();
    rebuildView();
    scheduleRender();
  });

  $('reset').addEventListener('click', async () => {
    const status = $('connection');
    const response = await fetch('/micro/reset', { method: 'POST' }).catch(() => null);
    if (!response || !response.ok) status.textContent = 'reset failed';
  });

  showFilters();
  render();
  connect();
})();
