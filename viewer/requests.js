// nestjs-snowplow event viewer: the tracker requests the collector saw, with their answer and
// fault, live from GET /micro/stream (`requests` snapshots, `request` updates by id). A refused
// request (503, hang, reset) stores no event: this list is where it shows.
(function () {
  'use strict';

  const { h } = window.SnowplowViewer;
  const $ = (id) => document.getElementById(id);
  /** The page keeps as many requests as the stream's snapshot holds. */
  const KEEP = 500;

  /** Requests by id (their index since the last reset), and the total since the reset. */
  let requests = new Map();
  let total = 0;
  let renderQueued = false;

  /** `plan step 0: status`, or `behaviour hook: reset`. */
  function faultText(fault) {
    if (!fault) return '';
    const where = fault.source === 'plan' ? `plan step ${fault.step}` : 'behaviour hook';
    return `${where}: ${fault.kind}`;
  }

  /** What the collector did: the status, or hung / reset, or pending while it is being answered. */
  function answerText(request) {
    if (request.fate === 'answered') return String(request.status);
    if (request.fate === 'hung') return 'hung (no answer)';
    if (request.fate === 'reset') return 'connection reset';
    if (request.fate === 'reset-mid-body') return 'reset mid-body';
    return 'pending…';
  }

  /** Whether the request's events were stored: answered 2xx. */
  function stored(request) {
    return request.fate === 'answered' && request.status >= 200 && request.status < 300;
  }

  function onRequests(message) {
    requests = new Map(message.requests.map((request) => [request.id, request]));
    total = message.total;
    scheduleRender();
  }

  function onRequest(message) {
    for (const request of message.requests) requests.set(request.id, request);
    total = message.total;
    if (requests.size > KEEP) {
      const ids = [...requests.keys()].sort((a, b) => a - b);
      for (const id of ids.slice(0, requests.size - KEEP)) requests.delete(id);
    }
    scheduleRender();
  }

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }

  function rowFor(request) {
    const faulted = !!request.fault;
    const answer = answerText(request);
    const ok = stored(request);
    return h(
      'tr',
      { class: faulted ? 'request faulted' : 'request', 'data-id': request.id },
      h('td', { class: 'mono' }, String(request.id + 1)),
      h('td', { class: 'mono' }, (request.receivedAt || '').slice(11, 23)),
      h('td', { class: 'mono' }, `${request.method} ${request.path}`),
      h(
        'td',
        { class: 'answer' },
        h('span', { class: `badge ${ok ? 'good' : request.fate ? 'bad' : 'pending'}` }, answer),
        ok ? ' stored' : '',
      ),
      h(
        'td',
        { class: 'fault' },
        faulted ? h('span', { class: 'badge faulted' }, 'faulted') : null,
        faulted ? ` ${faultText(request.fault)}` : '',
      ),
    );
  }

  function render() {
    const all = [...requests.values()].sort((a, b) => b.id - a.id);
    const faulted = all.filter((request) => request.fault).length;
    const onlyFaulted = $('requests-faulted-only').checked;
    const shown = onlyFaulted ? all.filter((request) => request.fault) : all;
    $('requests-body').replaceChildren(...shown.map(rowFor));
    $('requests-empty').hidden = shown.length > 0;
    $('requests-empty').textContent = all.length === 0 ? 'No tracker request yet.' : 'No faulted request.';
    const older = total > all.length ? ` (the newest ${all.length} listed)` : '';
    const noun = total === 1 ? 'tracker request' : 'tracker requests';
    $('faults-summary-requests').textContent = `${total} ${noun}, ${faulted} faulted${older}`;
  }

  $('requests-faulted-only').addEventListener('change', scheduleRender);

  Object.assign(window.SnowplowViewer, { faultText, onRequests, onRequest });
})();
