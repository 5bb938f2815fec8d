// nestjs-snowplow event viewer: what the page reads from an event (decoding, names, summaries).
// Loaded before detail.js and viewer.js; everything is on window.SnowplowViewer.
(function () {
  'use strict';

  const BILLING_SCHEMA = /^iglu:com\.gitlab\/billable_usage\//;

  /** Readable names of the tracker protocol's fields. */
  const FIELD_NAMES = {
    e: 'Event type',
    eid: 'Event id',
    aid: 'App id',
    p: 'Platform',
    tv: 'Tracker version',
    tna: 'Tracker namespace',
    dtm: 'Created on device',
    stm: 'Sent',
    ttm: 'True timestamp',
    tz: 'Time zone',
    uid: 'User id',
    duid: 'Domain user id',
    nuid: 'Network user id',
    tnuid: 'Network user id (tracker)',
    sid: 'Session id',
    vid: 'Session index',
    ip: 'IP address',
    ua: 'User agent',
    lang: 'Language',
    url: 'Page URL',
    refr: 'Referrer',
    page: 'Page title',
    res: 'Screen resolution',
    vp: 'Viewport',
    ds: 'Document size',
    cd: 'Colour depth',
    cs: 'Character set',
    se_ca: 'Category',
    se_ac: 'Action',
    se_la: 'Label',
    se_pr: 'Property',
    se_va: 'Value',
    ue_px: 'Self-describing event (base64)',
    ue_pr: 'Self-describing event (JSON)',
    cx: 'Entities (base64)',
    co: 'Entities (JSON)',
  };
  const EVENT_TYPES = {
    ue: 'self-describing',
    se: 'structured',
    pv: 'page view',
    pp: 'page ping',
    tr: 'transaction',
    ti: 'transaction item',
  };
  const TIMESTAMP_FIELDS = ['dtm', 'stm', 'ttm'];
  const ENCODED_FIELDS = ['ue_px', 'ue_pr', 'cx', 'co'];

  /** Builds an element; children are nodes or text (never parsed as HTML). */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
    }
    return node;
  }

  function decodeBase64Json(text) {
    try {
      const b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
      const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return undefined;
    }
  }

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /** The raw payload of a record as an object of fields (bad requests may have none). */
  function rawFields(record) {
    const raw = record.event.raw;
    return raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {};
  }

  /** Entities of a record: decoded by the collector for a good event, from cx/co for a bad one. */
  function entitiesOf(record) {
    if (record.kind === 'good') return record.event.contexts || [];
    const raw = rawFields(record);
    const wrapper = raw.cx !== undefined ? decodeBase64Json(raw.cx) : raw.co !== undefined ? parseJson(raw.co) : null;
    return wrapper && Array.isArray(wrapper.data) ? wrapper.data.filter((e) => e && typeof e === 'object') : [];
  }

  /** The self-describing event of a bad record, decoded from ue_px/ue_pr when possible. */
  function unstructOf(record) {
    if (record.kind === 'good')
      return record.event.schema ? { schema: record.event.schema, data: record.event.data } : null;
    const raw = rawFields(record);
    const wrapper =
      raw.ue_px !== undefined ? decodeBase64Json(raw.ue_px) : raw.ue_pr !== undefined ? parseJson(raw.ue_pr) : null;
    return wrapper && wrapper.data && typeof wrapper.data === 'object' ? wrapper.data : null;
  }

  function shortSchema(uri) {
    const match = /^iglu:([^/]+)\/([^/]+)\/[^/]+\/([^/]+)$/.exec(uri || '');
    return match ? `${match[1]}/${match[2]}@${match[3]}` : uri || '';
  }

  /** What the list and the filters need of a record: its row, its type text, its billing entity. */
  function summarize(record) {
    const raw = rawFields(record);
    const event = record.event;
    const entities = entitiesOf(record);
    const billing = entities.find((entity) => BILLING_SCHEMA.test(entity.schema || ''));
    const unstruct = unstructOf(record);
    let label;
    let schema = '';
    if (raw.e === 'se') label = `${raw.se_ca || '?'} / ${raw.se_ac || '?'}`;
    else if (record.kind === 'good') label = event.name;
    else label = (unstruct && unstruct.data && unstruct.data.name) || EVENT_TYPES[raw.e] || raw.e || 'request';
    if (unstruct) schema = unstruct.schema || '';
    const billingData = billing && billing.data && typeof billing.data === 'object' ? billing.data : null;
    const searchable = [label, schema, raw.e, EVENT_TYPES[raw.e], billingData && billingData.event_type];
    searchable.push(...entities.map((entity) => entity.schema));
    if (record.kind === 'bad') searchable.push(...event.errors.map((error) => error.schema));
    return {
      time: event.receivedAt ? event.receivedAt.slice(11, 23) : '',
      app: typeof raw.aid === 'string' ? raw.aid : '',
      label,
      schema,
      billing: billingData,
      typeText: searchable.filter(Boolean).join(' ').toLowerCase(),
      json: null,
    };
  }

  window.SnowplowViewer = {
    BILLING_SCHEMA,
    FIELD_NAMES,
    EVENT_TYPES,
    TIMESTAMP_FIELDS,
    ENCODED_FIELDS,
    h,
    rawFields,
    entitiesOf,
    unstructOf,
    shortSchema,
    summarize,
  };
})();
