// nestjs-snowplow event viewer: the detail panel of one event, and copying it as JSON.
(function () {
  'use strict';

  const { BILLING_SCHEMA, FIELD_NAMES, EVENT_TYPES, TIMESTAMP_FIELDS, ENCODED_FIELDS } = window.SnowplowViewer;
  const { h, rawFields, entitiesOf, unstructOf } = window.SnowplowViewer;
  // Defined by requests.js, loaded after this file.
  const faultText = (fault) => window.SnowplowViewer.faultText(fault);
  const $ = (id) => document.getElementById(id);

  function fieldTable(rows) {
    return h(
      'table',
      {},
      h(
        'tbody',
        {},
        rows.map(([name, value]) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', { class: 'mono' }, value))),
      ),
    );
  }

  function jsonBlock(value) {
    return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
  }

  function protocolRows(raw) {
    return Object.keys(raw)
      .filter((key) => !ENCODED_FIELDS.includes(key))
      .map((key) => {
        let value = typeof raw[key] === 'string' ? raw[key] : JSON.stringify(raw[key]);
        if (TIMESTAMP_FIELDS.includes(key) && /^\d+$/.test(value))
          value += ` (${new Date(Number(value)).toISOString()})`;
        if (key === 'e' && EVENT_TYPES[value]) value += ` (${EVENT_TYPES[value]})`;
        return [`${FIELD_NAMES[key] || key} (${key})`, value];
      });
  }

  function renderDetail(record) {
    const body = $('detail-body');
    $('detail-empty').hidden = !!record;
    body.hidden = !record;
    if (!record) return body.replaceChildren();
    const event = record.event;
    const raw = rawFields(record);
    const v = record.view;
    const copied = h('span', { class: 'copied', role: 'status' });
    const copy = h(
      'button',
      { type: 'button', id: 'copy-json', onclick: () => copyJson(event, copied) },
      'Copy as JSON',
    );
    const parts = [
      h(
        'div',
        { class: 'detail-head' },
        h('span', { class: `badge ${record.kind}` }, record.kind),
        v.billing ? h('span', { class: 'badge billing' }, 'billing') : null,
        record.fault ? h('span', { class: 'badge faulted' }, 'faulted') : null,
        h('span', { class: 'title' }, v.label || ''),
        copy,
        copied,
      ),
      fieldTable([
        ['Received', event.receivedAt || ''],
        ['Event id', raw.eid || '–'],
        ['App id', v.app || '–'],
        ['Event type', raw.e ? `${raw.e} (${EVENT_TYPES[raw.e] || 'other'})` : '–'],
        ...(record.fault ? [['Request fault', `${faultText(record.fault)} (answered, events stored)`]] : []),
      ]),
    ];
    if (record.kind === 'bad') {
      parts.push(h('h3', {}, `Validation errors (${event.errors.length})`));
      parts.push(
        h(
          'table',
          { class: 'errors' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Field', 'JSON path', 'Schema', 'Message'].map((t) => h('th', { scope: 'col' }, t)),
            ),
          ),
          h(
            'tbody',
            {},
            event.errors.map((error) =>
              h(
                'tr',
                { class: 'error' },
                h('td', { class: 'mono' }, error.field),
                h('td', { class: 'mono' }, error.path || '–'),
                h('td', { class: 'mono' }, error.schema || '–'),
                h('td', {}, error.message),
              ),
            ),
          ),
        ),
      );
    }
    const unstruct = unstructOf(record);
    if (unstruct) {
      parts.push(h('h3', {}, 'Event data'));
      parts.push(h('p', { class: 'schema-uri mono' }, unstruct.schema || ''));
      parts.push(jsonBlock(unstruct.data));
    } else if (raw.e === 'se') {
      parts.push(h('h3', {}, 'Event data'));
      const keys = ['se_ca', 'se_ac', 'se_la', 'se_pr', 'se_va'].filter((key) => raw[key] !== undefined);
      parts.push(fieldTable(keys.map((key) => [FIELD_NAMES[key], raw[key]])));
    }
    const entities = entitiesOf(record);
    parts.push(h('h3', {}, `Entities (${entities.length})`));
    for (const entity of entities) {
      const billing = BILLING_SCHEMA.test(entity.schema || '');
      parts.push(
        h(
          'div',
          { class: billing ? 'entity billing' : 'entity' },
          h(
            'p',
            { class: 'schema-uri mono' },
            billing ? h('span', { class: 'badge billing' }, 'billing') : null,
            entity.schema,
          ),
          jsonBlock(entity.data),
        ),
      );
    }
    parts.push(h('h3', {}, 'Protocol fields'));
    if (Object.keys(raw).length > 0) parts.push(fieldTable(protocolRows(raw)));
    else parts.push(jsonBlock(event.raw));
    body.replaceChildren(...parts);
  }

  async function copyJson(event, status) {
    const text = JSON.stringify(event, null, 2);
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = h('textarea', { 'aria-hidden': 'true' });
      area.style.position = 'fixed';
      area.style.opacity = '0';
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    status.textContent = 'Copied';
  }

  window.SnowplowViewer.renderDetail = renderDetail;
})();
