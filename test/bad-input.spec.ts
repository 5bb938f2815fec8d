// One test per row of the README's bad-input table. The last test checks that every message in
// this file appears in the README, so the table stays true to the code.
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, INestApplication, LoggerService, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  BillingEventOptionalInput,
  BillingEventRequiredInput,
  DeadLetterModeError,
  DeadLetterSymlinkError,
  Emitter,
  EmitterStoppedError,
  EventTooLargeError,
  InvalidCollectorUrlError,
  InvalidEventError,
  InvalidOptionError,
  SchemaValidationError,
  SnowplowError,
  SnowplowModule,
  SnowplowModuleOptions,
  StaticTokenSource,
  StorageError,
  TrackBillingEvent,
  TrackEvent,
  Tracker,
} from '../lib';
import { InvalidFaultPlanError, validateFaultPlan } from '../lib/testing/fault-plan';
import { startLocalCollector } from '../lib/testing/local-collector';
import { FIXTURE_IGLU_DIR } from './support/decode';
import { waitFor } from './support/wait-for';

type ErrorClass = new (...args: never[]) => SnowplowError;
interface Row {
  input: string;
  run: () => unknown;
  error: ErrorClass;
  message: string;
}

const CHECKOUT = 'iglu:com.acme/checkout/jsonschema/1-0-0';
const emitter = new Emitter({ collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2' });
const tracker = new Tracker({ appId: 'bad-input', emitter });
/** Strict mode: events checked against test/fixtures/iglu at track time. */
const strict = new Tracker({ appId: 'bad-input', emitter, validate: { schemas: 'test/fixtures/iglu' } });
const required: BillingEventRequiredInput = {
  category: 'billing',
  eventType: 'ci_minutes',
  realm: 'SaaS',
  unitOfMeasure: 'minute',
  quantity: 1,
};
const billing = (changes: Partial<Record<keyof BillingEventRequiredInput, unknown>>) =>
  tracker.trackBillingEvent({ ...required, ...changes } as BillingEventRequiredInput);
const optional = (input: Record<string, unknown>) =>
  tracker.trackBillingEventWithOptionalInput(required, input as BillingEventOptionalInput);
const withoutCategory = () => {
  const { category: _omit, ...rest } = required;
  return tracker.trackBillingEvent(rest as BillingEventRequiredInput);
};
class Node {
  next?: Node;
}
const cycle = new Node();
cycle.next = cycle;
const circular: Record<string, unknown> = {};
circular.self = circular;
/** Applies `@TrackEvent(...args)` to a fresh method, as a class definition does. */
const decorate = (...args: unknown[]) => {
  const track = TrackEvent as (...a: unknown[]) => MethodDecorator;
  class Fixture {
    @track(...args)
    handler(): void {}
  }
  return Fixture;
};
/** Applies `@TrackBillingEvent(...args)` to a fresh method. */
const decorateBilling = (...args: unknown[]) => {
  const track = TrackBillingEvent as (...a: unknown[]) => MethodDecorator;
  class Fixture {
    @track(...args)
    handler(): void {}
  }
  return Fixture;
};
const billFromResult = () => required;
const emitterWith = (options: Record<string, unknown>) =>
  new Emitter({ collectorUrl: 'http://127.0.0.1:9/tp2', ...options } as never);

/** Dead-letter paths the README rows name: a symlink to another file, and a file with mode 0644. */
const files = { dir: '', link: '', shared: '' };
beforeAll(() => {
  files.dir = mkdtempSync(join(tmpdir(), 'bad-input-'));
  files.link = join(files.dir, 'link.jsonl');
  files.shared = join(files.dir, 'shared.jsonl');
  writeFileSync(join(files.dir, 'target.log'), '');
  symlinkSync(join(files.dir, 'target.log'), files.link);
  writeFileSync(files.shared, '');
  chmodSync(files.shared, 0o644);
});
afterAll(() => rmSync(files.dir, { recursive: true, force: true }));

const rows: Row[] = [
  {
    input: "trackEvent('')",
    run: () => tracker.trackEvent(''),
    error: InvalidEventError,
    message: 'Invalid event field "name": must not be empty or whitespace',
  },
  {
    input: "trackEvent('   ')",
    run: () => tracker.trackEvent('   '),
    error: InvalidEventError,
    message: 'Invalid event field "name": must not be empty or whitespace',
  },
  {
    input: 'trackEvent(42)',
    run: () => tracker.trackEvent(42 as never),
    error: InvalidEventError,
    message: 'Invalid event field "name": must be a string, got number',
  },
  {
    input: 'a 256-character name',
    run: () => tracker.trackEvent('n'.repeat(256)),
    error: InvalidEventError,
    message: 'Invalid event field "name": must be at most 255 characters, got 256',
  },
  {
    input: 'props `[1, 2]`',
    run: () => tracker.trackEvent('e', [1, 2] as never),
    error: InvalidEventError,
    message: 'Invalid event field "props": must be a plain object, got an array',
  },
  {
    input: "props `'text'`",
    run: () => tracker.trackEvent('e', 'text' as never),
    error: InvalidEventError,
    message: 'Invalid event field "props": must be a plain object, got string',
  },
  {
    input: 'props: a class instance (with a cycle)',
    run: () => tracker.trackEvent('e', cycle as never),
    error: InvalidEventError,
    message: 'Invalid event field "props": must be a plain object, got an instance of Node',
  },
  {
    input: 'props with a circular reference',
    run: () => tracker.trackEvent('e', { circular }),
    error: InvalidEventError,
    message: 'Invalid event field "props": contains a circular reference',
  },
  {
    input: 'props `{ n: 1n }`',
    run: () => tracker.trackEvent('e', { n: BigInt(1) }),
    error: InvalidEventError,
    message: 'Invalid event field "props": contains a BigInt, which JSON cannot represent',
  },
  {
    input: 'props `{ toJSON: () => undefined }`',
    run: () => tracker.trackEvent('e', { toJSON: () => undefined }),
    error: InvalidEventError,
    message:
      'Invalid event field "props": ' +
      'must serialise to a JSON object, but JSON.stringify gives undefined (see its toJSON)',
  },
  {
    input: 'props `{ toJSON: () => 5 }`',
    run: () => tracker.trackEvent('e', { toJSON: () => 5 }),
    error: InvalidEventError,
    message:
      'Invalid event field "props": ' +
      'must serialise to a JSON object, but JSON.stringify gives a number (see its toJSON)',
  },
  {
    input: 'props `{ toJSON: () => [1] }`',
    run: () => tracker.trackEvent('e', { toJSON: () => [1] }),
    error: InvalidEventError,
    message:
      'Invalid event field "props": ' +
      'must serialise to a JSON object, but JSON.stringify gives an array (see its toJSON)',
  },
  {
    input: "`@TrackEvent('e', { props: { toJSON: () => 5 } })`",
    run: () => decorate('e', { props: { toJSON: () => 5 } }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "options.props": @TrackEvent on Fixture.handler: ' +
      'must serialise to a JSON object, but JSON.stringify gives a number (see its toJSON)',
  },
  {
    input: "`@TrackEvent('e', { tracker: 'has space' })`",
    run: () => decorate('e', { tracker: 'has space' }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "options.tracker": @TrackEvent on Fixture.handler: ' +
      'must be a tracker name: a letter, then up to 62 letters, digits, "_" or "-", got "has space"',
  },
  {
    input: "`SnowplowModule.forRoot({ name: 'has space', ... })`",
    run: () =>
      SnowplowModule.forRoot({ name: 'has space', collectorUrl: 'http://127.0.0.1:9/tp2', appId: 'bad-input' }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "name": ' +
      'must be a tracker name: a letter, then up to 62 letters, digits, "_" or "-", got "has space"',
  },
  {
    input: "`@TrackEvent({ schema: 'com.acme/rated', data })`",
    run: () => decorate({ schema: 'com.acme/rated', data: {} }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "event.schema": @TrackEvent on Fixture.handler: ' +
      'must be an Iglu URI of the form iglu:vendor/name/jsonschema/1-0-0, got "com.acme/rated"',
  },
  {
    input: '`@TrackEvent({ schema, data: [1] })`',
    run: () => decorate({ schema: 'iglu:com.acme/rated/jsonschema/1-0-0', data: [1] }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "event.data": @TrackEvent on Fixture.handler: must be a plain object, got an array',
  },
  {
    input: "`@TrackEvent('e', { entities: [{ schema }] })` (no data)",
    run: () => decorate('e', { entities: [{ schema: 'iglu:com.acme/cart/jsonschema/1-0-0' }] }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "options.entities[0].data": @TrackEvent on Fixture.handler: is required: a plain object',
  },
  {
    input: "`@TrackBillingEvent(fn, { subject: { vid: 'one' } })`",
    run: () => decorateBilling(billFromResult, { subject: { vid: 'one' } }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "options.subject.vid": @TrackBillingEvent on Fixture.handler: ' +
      'must be an integer from 0 to 32767, got string',
  },
  {
    input: '`@TrackBillingEvent(42)`',
    run: () => decorateBilling(42),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "input": @TrackBillingEvent on Fixture.handler: ' +
      'must be an object or a function, got number',
  },
  {
    input: '`@TrackBillingEvent({ ...required, quantity: 0 })`',
    run: () => decorateBilling({ ...required, quantity: 0 }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "input.quantity": @TrackBillingEvent on Fixture.handler: must be greater than 0, got 0',
  },
  {
    input: "`@TrackBillingEvent(fn, { on: 'never' })`",
    run: () => decorateBilling(billFromResult, { on: 'never' }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "options.on": @TrackBillingEvent on Fixture.handler: ' +
      "must be one of 'success', 'error', 'always', got \"never\"",
  },
  {
    input: '`@TrackBillingEvent(fn, { optinal: {} })` (a typo)',
    run: () => decorateBilling(billFromResult, { optinal: {} }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "options.optinal": @TrackBillingEvent on Fixture.handler: ' +
      'unknown option (expected one of: optional, on, entities, subject, tracker)',
  },
  {
    input: '`@TrackBillingEvent(fn, { optional: { projectId: -1 } })`',
    run: () => decorateBilling(billFromResult, { optional: { projectId: -1 } }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "options.optional.projectId": @TrackBillingEvent on Fixture.handler: ' +
      'must be a non-negative safe integer, got -1',
  },
  {
    input: 'props with a 2 MB string',
    run: () => tracker.trackEvent('e', { blob: 'x'.repeat(2 * 1024 * 1024) }),
    error: EventTooLargeError,
    message: 'Invalid event field "event": serialised size 2796663 bytes exceeds maxEventBytes (999912)',
  },
  {
    input: 'billing without `category`',
    run: withoutCategory,
    error: InvalidEventError,
    message: 'Invalid event field "category": is required',
  },
  {
    input: "`eventType: ''`",
    run: () => billing({ eventType: '' }),
    error: InvalidEventError,
    message: 'Invalid event field "eventType": must not be empty or whitespace',
  },
  {
    input: '`unitOfMeasure: 7`',
    run: () => billing({ unitOfMeasure: 7 }),
    error: InvalidEventError,
    message: 'Invalid event field "unitOfMeasure": must be a string, got number',
  },
  {
    input: "`realm: 'saas'`",
    run: () => billing({ realm: 'saas' }),
    error: InvalidEventError,
    message: 'Invalid event field "realm": must be one of SaaS, Dedicated, SM, got "saas"',
  },
  {
    input: "`quantity: '1'`",
    run: () => billing({ quantity: '1' }),
    error: InvalidEventError,
    message: 'Invalid event field "quantity": must be a number, got string',
  },
  {
    input: '`quantity: NaN`',
    run: () => billing({ quantity: NaN }),
    error: InvalidEventError,
    message: 'Invalid event field "quantity": must be finite, got NaN',
  },
  {
    input: '`quantity: Infinity`',
    run: () => billing({ quantity: Infinity }),
    error: InvalidEventError,
    message: 'Invalid event field "quantity": must be finite, got Infinity',
  },
  {
    input: '`quantity: 0` or negative',
    run: () => billing({ quantity: -2 }),
    error: InvalidEventError,
    message: 'Invalid event field "quantity": must be greater than 0, got -2',
  },
  {
    input: '`projectId: 1.5`',
    run: () => optional({ projectId: 1.5 }),
    error: InvalidEventError,
    message: 'Invalid event field "projectId": must be a non-negative safe integer, got 1.5',
  },
  {
    input: '`namespaceId: -1`',
    run: () => optional({ namespaceId: -1 }),
    error: InvalidEventError,
    message: 'Invalid event field "namespaceId": must be a non-negative safe integer, got -1',
  },
  {
    input: "`seatIds: 'a'`",
    run: () => optional({ seatIds: 'a' }),
    error: InvalidEventError,
    message: 'Invalid event field "seatIds": must be an array of strings, got string',
  },
  {
    input: "`seatIds: [ , 'a']` (a hole)",
    // eslint-disable-next-line no-sparse-arrays -- the hole is the bad input
    run: () => optional({ seatIds: [, 'a'] }),
    error: InvalidEventError,
    message: 'Invalid event field "seatIds": must be an array of strings, got a hole at index 0',
  },
  {
    input: "`assignments: ['a', 7]`",
    run: () => optional({ assignments: ['a', 7] }),
    error: InvalidEventError,
    message: 'Invalid event field "assignments": must be an array of strings, got number at index 1',
  },
  {
    input: '`hostName: 5`',
    run: () => optional({ hostName: 5 }),
    error: InvalidEventError,
    message: 'Invalid event field "hostName": must be a string, got number',
  },
  {
    input: '`metadata: []`',
    run: () => optional({ metadata: [] }),
    error: InvalidEventError,
    message: 'Invalid event field "metadata": must be a plain object, got an array',
  },
  {
    input: "`metadata: { toJSON: () => 'text' }`",
    run: () => optional({ metadata: { toJSON: () => 'text' } }),
    error: InvalidEventError,
    message:
      'Invalid event field "metadata": ' +
      'must serialise to a JSON object, but JSON.stringify gives a string (see its toJSON)',
  },
  {
    input: "trackSelfDescribingEvent({ schema: 'com.acme/checkout/1-0-0', data })",
    run: () => tracker.trackSelfDescribingEvent({ schema: 'com.acme/checkout/1-0-0', data: {} }),
    error: InvalidEventError,
    message:
      'Invalid event field "schema": must be an Iglu URI of the form iglu:vendor/name/jsonschema/1-0-0, ' +
      'got "com.acme/checkout/1-0-0"',
  },
  {
    input: 'trackSelfDescribingEvent data `[1]`',
    run: () => tracker.trackSelfDescribingEvent({ schema: CHECKOUT, data: [1] as never }),
    error: InvalidEventError,
    message: 'Invalid event field "data": must be a plain object, got an array',
  },
  {
    input: 'trackStructEvent `value: Infinity`',
    run: () => tracker.trackStructEvent({ category: 'c', action: 'a', value: Infinity }),
    error: InvalidEventError,
    message: 'Invalid event field "value": must be finite, got Infinity',
  },
  {
    input: 'trackStructEvent with a 4097-character `label`',
    run: () => tracker.trackStructEvent({ category: 'c', action: 'a', label: 'l'.repeat(4097) }),
    error: InvalidEventError,
    message: 'Invalid event field "label": must be at most 4096 characters, got 4097',
  },
  {
    input: 'trackPageView without `url`',
    run: () => tracker.trackPageView({} as never),
    error: InvalidEventError,
    message: 'Invalid event field "url": is required',
  },
  {
    input: 'an entity `{ data }` without schema',
    run: () => tracker.trackEvent('e', {}, { entities: [{ data: {} } as never] }),
    error: InvalidEventError,
    message:
      'Invalid event field "options.entities[0].schema": is required: an Iglu URI such as ' +
      'iglu:vendor/name/jsonschema/1-0-0',
  },
  {
    input: 'an entity `{ schema }` without data',
    run: () => tracker.trackEvent('e', {}, { entities: [{ schema: CHECKOUT } as never] }),
    error: InvalidEventError,
    message: 'Invalid event field "options.entities[0].data": is required: a plain object',
  },
  {
    input: '`subject: { uid: 42 }`',
    run: () => tracker.trackEvent('e', {}, { subject: { uid: 42 as never } }),
    error: InvalidEventError,
    message: 'Invalid event field "options.subject.uid": must be a string, got number',
  },
  {
    input: "`subject: { p: 'desktop' }`",
    run: () => tracker.trackEvent('e', {}, { subject: { p: 'desktop' as never } }),
    error: InvalidEventError,
    message:
      'Invalid event field "options.subject.p": must be one of web, mob, pc, srv, app, tv, cnsl, iot, got "desktop"',
  },
  {
    input: "`trueTimestamp: 'yesterday'`",
    run: () => tracker.trackEvent('e', {}, { trueTimestamp: 'yesterday' as never }),
    error: InvalidEventError,
    message:
      'Invalid event field "options.trueTimestamp": must be a Date or an integer of milliseconds since the epoch, ' +
      'up to the year 9999, got string',
  },
  {
    input: 'options `{ entites: [] }` (a typo)',
    run: () => tracker.trackEvent('e', {}, { entites: [] } as never),
    error: InvalidEventError,
    message:
      'Invalid event field "options.entites": is not an option (entities, subject, trueTimestamp, deviceTimestamp)',
  },
  {
    input: '`new Tracker({ subject: { vid: 1.5 } })`',
    run: () => new Tracker({ appId: 'bad-input', emitter, subject: { vid: 1.5 } }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "subject.vid": must be an integer from 0 to 32767, got 1.5',
  },
  {
    input: "`new Tracker({ validate: 'schemas' })`",
    run: () => new Tracker({ appId: 'bad-input', emitter, validate: 'schemas' as never }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "validate": must be { schemas: \'./iglu\' } (a local Iglu folder, or a list of them)',
  },
  {
    input: "`new Tracker({ validate: { schemas: '' } })`",
    run: () => new Tracker({ appId: 'bad-input', emitter, validate: { schemas: '' } }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "validate.schemas": must be a local Iglu folder (schemas/VENDOR/NAME/jsonschema/M-R-A under it), or a non-empty list of them',
  },
  {
    input: "`new Tracker({ validate: { schemas: '/no/such/iglu' } })`",
    run: () => new Tracker({ appId: 'bad-input', emitter, validate: { schemas: '/no/such/iglu' } }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "validate.schemas": /no/such/iglu: not a directory',
  },
  {
    input: '`new Tracker({ validate: { schemas, strict: true } })`',
    run: () =>
      new Tracker({ appId: 'bad-input', emitter, validate: { schemas: FIXTURE_IGLU_DIR, strict: true } as never }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "validate.strict": is not an option (schemas)',
  },
  {
    input: "strict mode: checkout `total: '42'`",
    run: () => strict.trackSelfDescribingEvent({ schema: CHECKOUT, data: { orderId: 'o-1', total: '42' } }),
    error: SchemaValidationError,
    message:
      'Invalid event field "event.data.total": does not match iglu:com.acme/checkout/jsonschema/1-0-0: /total must be number (got "42")',
  },
  {
    input: 'strict mode: an entity of a schema not in the folder',
    run: () =>
      strict.trackEvent('e', {}, { entities: [{ schema: 'iglu:com.acme/refund/jsonschema/1-0-0', data: {} }] }),
    error: SchemaValidationError,
    message:
      'Invalid event field "entities[0].schema": iglu:com.acme/refund/jsonschema/1-0-0 is not in the local schemas (validate.schemas: test/fixtures/iglu)',
  },
  {
    input: '`new Tracker({ entities: [42] })`',
    run: () => new Tracker({ appId: 'bad-input', emitter, entities: [42 as never] }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "entities[0]": must be an entity {schema, data}, a generator function or {entity, accept?, reject?, filter?}, got number',
  },
  {
    input: '`entities: [{ schema }]` (a static entity without data)',
    run: () => new Tracker({ appId: 'bad-input', emitter, entities: [{ schema: CHECKOUT } as never] }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "entities[0].data": is required: a plain object',
  },
  {
    input: "`entities: [{ entity, accept: ['iglu:*.acme/*/jsonschema/1-*-*'] }]`",
    run: () =>
      new Tracker({
        appId: 'bad-input',
        emitter,
        entities: [{ entity: () => undefined, accept: ['iglu:*.acme/*/jsonschema/1-*-*'] }],
      }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "entities[0].accept[0]": needs a vendor of at least two parts, the first two not "*" in "iglu:*.acme/*/jsonschema/1-*-*"',
  },
  {
    input: "`entities: [{ entity, reject: ['iglu:com.acme/*/jsonschema/1-*'] }]`",
    run: () =>
      new Tracker({
        appId: 'bad-input',
        emitter,
        entities: [{ entity: () => undefined, reject: ['iglu:com.acme/*/jsonschema/1-*'] }],
      }),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "entities[0].reject[0]": has a version that is not M-R-A (numbers or *, the model from 1) in "iglu:com.acme/*/jsonschema/1-*"',
  },
  {
    input: '`entities: [{ entity, filter: true }]`',
    run: () =>
      new Tracker({ appId: 'bad-input', emitter, entities: [{ entity: () => undefined, filter: true as never }] }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "entities[0].filter": must be a function of the event, got boolean',
  },
  {
    input: "`collectorUrl: '/tp2'`",
    run: () => emitterWith({ collectorUrl: '/tp2' }),
    error: InvalidCollectorUrlError,
    message: 'Invalid Snowplow option "collectorUrl": is not an absolute URL',
  },
  {
    input: "`collectorUrl: 'ftp://host/tp2'`",
    run: () => emitterWith({ collectorUrl: 'ftp://host/tp2' }),
    error: InvalidCollectorUrlError,
    message: 'Invalid Snowplow option "collectorUrl": must use http or https, got ftp',
  },
  {
    input: "`batchSize: '10'`",
    run: () => emitterWith({ batchSize: '10' }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "batchSize": must be an integer >= 1',
  },
  {
    input: '`lingerMs: 50, maxLingerMs: 30`',
    run: () => emitterWith({ lingerMs: 50, maxLingerMs: 30 }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "maxLingerMs": must be 0 (off) or at least lingerMs (50)',
  },
  {
    input: '`exitDrainTimeoutMs: -1`',
    run: () => emitterWith({ exitDrainTimeoutMs: -1 }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "exitDrainTimeoutMs": must be an integer from 0 to 2147483647',
  },
  {
    input: '`deadLetter: { path }` where path is a symbolic link',
    run: () => emitterWith({ deadLetter: { path: files.link } }),
    error: DeadLetterSymlinkError,
    message:
      'Snowplow dead-letter file refused: it is a symbolic link, and billing records never go to the file a link ' +
      'points to (set deadLetter.path to the real file): ',
  },
  {
    input: '`deadLetter: { path }` where path is a file with mode 0644',
    run: () => emitterWith({ deadLetter: { path: files.shared } }),
    error: DeadLetterModeError,
    message:
      'Snowplow dead-letter file refused: it has mode 0644, so its group or others may access it, and its lines ' +
      'hold billing data (chmod it to 600, or choose another path): ',
  },
  {
    input: '`requestTimeoutMs: -5`',
    run: () => emitterWith({ requestTimeoutMs: -5 }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "requestTimeoutMs": must be an integer from 1 to 2147483647',
  },
  {
    input: "`callback: 'log'`",
    run: () => emitterWith({ callback: 'log' }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "callback": must be a function',
  },
  {
    input: 'a tokenSource with credentials in collectorUrl',
    run: () => new Emitter({ collectorUrl: 'https://u:p@host/tp2', tokenSource: new StaticTokenSource('t') }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "tokenSource": cannot be combined with credentials in collectorUrl',
  },
  {
    input: '`tokenSource: {}`',
    run: () => emitterWith({ tokenSource: {} }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "tokenSource": must have enhanceHeader()',
  },
  {
    input: "`appId: ''`",
    run: () => new Tracker({ appId: '', emitter }),
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "appId": must be a non-empty string',
  },
  {
    input: 'track after shutdown',
    run: () => stoppedTracker.trackEvent('late'),
    error: EmitterStoppedError,
    message: 'The Snowplow emitter is stopped and accepts no more events',
  },
  {
    input: 'a fault plan step `{ status: 700 }` (`setFaults`, the `faults` option; `POST /micro/faults` answers 400)',
    run: () => validateFaultPlan({ steps: [{ status: 700 }] }),
    error: InvalidFaultPlanError,
    message: 'Invalid fault plan "steps[0].status": must be an integer 200-599',
  },
  {
    input: 'a fault plan step `{ status: 503, probability: 2 }`',
    run: () => validateFaultPlan({ steps: [{ status: 503, probability: 2 }] }),
    error: InvalidFaultPlanError,
    message: 'Invalid fault plan "steps[0].probability": must be a number above 0 and at most 1',
  },
  {
    input: '`inTransaction(tx)` with the memory or SQLite store',
    run: () => tracker.inTransaction(() => Promise.resolve()),
    error: StorageError,
    message:
      "Snowplow event store (in memory): cannot write in a caller's transaction: inTransaction needs the PostgreSQL store (storage: { type: 'postgres' })",
  },
  {
    input: '`inTransaction({})` (not a transaction)',
    run: () =>
      new Tracker({
        appId: 'bad-input',
        emitter: new Emitter({
          collectorUrl: 'http://127.0.0.1:9/com.snowplowanalytics.snowplow/tp2',
          storage: { type: 'postgres', connectionString: 'postgres://127.0.0.1:9/never' },
        }),
      }).inTransaction({} as never),
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "tx": must be an open transaction: a pg client, a TypeORM EntityManager or QueryRunner, a Knex transaction, or a function (sql, params) => Promise',
  },
];

const moduleRows: Array<{ input: string; options: Record<string, unknown>; error: ErrorClass; message: string }> = [
  {
    input: '`validate: { schemas: [] }`',
    options: { validate: { schemas: [] } },
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "validate.schemas": must be a local Iglu folder (schemas/VENDOR/NAME/jsonschema/M-R-A under it), or a non-empty list of them',
  },
  {
    input: "`requestEntity: 'yes'`",
    options: { requestEntity: 'yes' },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "requestEntity": must be true or false, got string',
  },
  {
    input: '`shutdownTimeoutMs: -1`',
    options: { shutdownTimeoutMs: -1 },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "shutdownTimeoutMs": must be an integer >= 0 (ms)',
  },
  {
    input: "`metrics: 'yes'`",
    options: { metrics: 'yes' },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "metrics": must be an object ({ prefix?, labels? }) or false',
  },
  {
    input: "`metrics: { tracker: 'billing' }`",
    options: { metrics: { tracker: 'billing' } },
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "metrics.tracker": is the instance\'s name: set `name` of forRoot / forRootAsync instead',
  },
  {
    input: '`batchsize: 10` (a typo)',
    options: { batchsize: 10 },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "batchsize": is not a SnowplowModule option',
  },
  {
    input: "`correlationIdHeaders: 'x-request-id'`",
    options: { correlationIdHeaders: 'x-request-id' },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "correlationIdHeaders": must be an array of header names, got string',
  },
  {
    input: '`correlationIdMaxLength: 0`',
    options: { correlationIdMaxLength: 0 },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "correlationIdMaxLength": must be an integer >= 1',
  },
  {
    input: '`enrich: {}`',
    options: { enrich: {} },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "enrich": must be a function',
  },
  {
    input: "`storage: { type: 'redis' }`",
    options: { storage: { type: 'redis' } },
    error: InvalidOptionError,
    message: "Invalid Snowplow option \"storage.type\": must be 'memory', 'sqlite' or 'postgres', got \"redis\"",
  },
  {
    input: "`storage: { type: 'sqlite', path, shared: true, lockTimeoutMs: 10000 }`",
    options: {
      storage: { type: 'sqlite', path: join(tmpdir(), 'never-created.db'), shared: true, lockTimeoutMs: 10_000 },
    },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "storage.lockTimeoutMs": must be an integer from 0 to 5000 (ms)',
  },
  {
    input: "`storage: { type: 'postgres' }` without a connection",
    options: { storage: { type: 'postgres' } },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "storage.connectionString": is required, or a pg Pool as storage.pool',
  },
  {
    input: "`storage: { type: 'postgres', pool, connectionString }`",
    options: {
      storage: { type: 'postgres', pool: { connect: () => undefined }, connectionString: 'postgres://db/app' },
    },
    error: InvalidOptionError,
    message: 'Invalid Snowplow option "storage.pool": give either a pg Pool (pool) or a connectionString, not both',
  },
  {
    input: "`storage: { type: 'postgres', connectionString, leaseMs: 3000 }` (`requestTimeoutMs` 5000)",
    options: { storage: { type: 'postgres', connectionString: 'postgres://db/app', leaseMs: 3_000 } },
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "storage.leaseMs": must exceed requestTimeoutMs (5000) + 1000 ms, or a slow batch is leased twice',
  },
  {
    input: "`storage: { type: 'postgres', connectionString, table: 'bad-name' }`",
    options: { storage: { type: 'postgres', connectionString: 'postgres://db/app', table: 'bad-name' } },
    error: InvalidOptionError,
    message:
      'Invalid Snowplow option "storage.table": must be a PostgreSQL name of letters, digits and _ (starting with a letter or _)',
  },
];

/**
 * `@TrackBillingEvent` inputs that can only be judged when the handler has run: nothing is thrown
 * to the client (the request succeeds); the error is logged at error level with the handler and
 * counted in snowplow_track_errors_total{kind="billing"}.
 */
@Controller()
class BillingController {
  @Post('zero')
  @TrackBillingEvent(() => ({ ...required, quantity: 0 }))
  zero() {
    return 'zero';
  }

  @Post('text')
  @TrackBillingEvent(() => 'ten' as unknown as BillingEventRequiredInput)
  text() {
    return 'text';
  }

  @Post('seats')
  @TrackBillingEvent(billFromResult, { optional: () => ({ seatIds: 'a' }) as unknown as BillingEventOptionalInput })
  seats() {
    return 'seats';
  }
}

const requestRows: Array<{ input: string; route: string; handler: string; error: ErrorClass; message: string }> = [
  {
    input: 'a `@TrackBillingEvent` input function returning `quantity: 0` (at request time)',
    route: 'zero',
    handler: 'BillingController.zero',
    error: InvalidEventError,
    message: 'Invalid event field "quantity": must be greater than 0, got 0',
  },
  {
    input: "a `@TrackBillingEvent` input function returning `'ten'` (at request time)",
    route: 'text',
    handler: 'BillingController.text',
    error: InvalidEventError,
    message:
      'Invalid event field "input": the input function returned string; ' +
      'it must return a BillingEventRequiredInput, null or undefined',
  },
  {
    input: "a `@TrackBillingEvent` optional function returning `{ seatIds: 'a' }` (at request time)",
    route: 'seats',
    handler: 'BillingController.seats',
    error: InvalidEventError,
    message: 'Invalid event field "seatIds": must be an array of strings, got string',
  },
];

let stoppedTracker: Tracker;
beforeAll(async () => {
  const stopped = new Emitter({ collectorUrl: 'http://127.0.0.1:9/tp2' });
  stoppedTracker = new Tracker({ appId: 'stopped', emitter: stopped });
  await stopped.stop();
});
afterAll(() => emitter.stop());

describe('bad input: every row of the README table', () => {
  it.each(rows)('$input → $error.name', ({ run, error, message }) => {
    expect(run).toThrow(error);
    expect(run).toThrow(message);
    expect(emitter.queueDepth).toBe(0);
  });

  it.each(moduleRows)('SnowplowModule.forRoot with $input fails at startup', async ({ options, error, message }) => {
    const base: SnowplowModuleOptions = { collectorUrl: 'http://127.0.0.1:9/tp2', appId: 'bad-input', metrics: false };
    const compile = () =>
      Test.createTestingModule({ imports: [SnowplowModule.forRoot({ ...base, ...options })] }).compile();
    await expect(compile()).rejects.toThrow(error);
    await expect(compile()).rejects.toThrow(message);
  });

  describe('@TrackBillingEvent inputs judged at request time', () => {
    const errors: string[] = [];
    const logger: LoggerService = { log: () => undefined, warn: () => undefined, error: (m) => errors.push(m) };
    let app: INestApplication;
    beforeAll(async () => {
      @Module({
        imports: [
          SnowplowModule.forRoot({ collectorUrl: 'http://127.0.0.1:9/tp2', appId: 'bad-input', metrics: false }),
        ],
        controllers: [BillingController],
      })
      class BillingModule {}
      app = (await Test.createTestingModule({ imports: [BillingModule] }).compile()).createNestApplication({ logger });
      await app.init();
    });
    afterAll(() => app?.close());

    it.each(requestRows)('$input → the request succeeds, $error.name logged', async (row) => {
      errors.length = 0;
      await request(app.getHttpServer()).post(`/${row.route}`).expect(201, row.route);
      expect(errors).toEqual([
        `billing event not sent (interceptor): @TrackBillingEvent on ${row.handler}: ${row.error.name}: ${row.message}`,
      ]);
    });
  });

  it('the README table lists every row with its error class and message', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Bad input'));
    for (const row of [...rows, ...moduleRows, ...requestRows]) {
      expect(table).toContain(`| ${row.input} | \`${row.error.name}\` | ${row.message}`);
    }
  });
});

describe('credentials never reach logs or errors', () => {
  it('a password in collectorUrl and a bearer token are never logged, even while the collector fails', async () => {
    const collector = await startLocalCollector();
    collector.behaviour = (_r, index) => (index % 2 === 0 ? { status: 500 } : { reset: true });
    const logs: string[] = [];
    const record = (message: string) => void logs.push(message);
    const url = new URL(collector.endpoint);
    url.username = 'svc';
    url.password = 'hunter2-password';
    const common = {
      backoff: { baseMs: 1, capMs: 5 },
      logger: { warn: record, error: record },
      callback: (_s: unknown, failures: Array<{ error?: Error }>) =>
        failures.forEach((f) => f.error && record(f.error.message)),
    };
    const withPassword = new Emitter({ collectorUrl: url.href, ...common });
    const withToken = new Emitter({
      collectorUrl: collector.endpoint,
      tokenSource: new StaticTokenSource('token-s3cr3t'),
      ...common,
    });
    for (const leaky of [withPassword, withToken]) {
      leaky.start();
      new Tracker({ appId: 'leak', emitter: leaky }).trackEvent('x');
    }
    await waitFor(() => collector.requests.length >= 8, { what: 'failed requests' });
    await Promise.all([withPassword.stop(), withToken.stop()]);
    await collector.close();
    const authorization = collector.requests.map((r) => r.headers.authorization);
    expect(authorization).toContain('Bearer token-s3cr3t');
    expect(authorization.some((a) => a?.startsWith('Basic '))).toBe(true);
    const everything = [
      ...logs,
      withPassword.collectorUrl,
      JSON.stringify(withPassword.stats()),
      JSON.stringify(withToken.stats()),
    ].join('\n');
    expect(logs.length).toBeGreaterThan(0);
    expect(everything).toContain('//***:***@');
    expect(everything).not.toContain('svc');
    expect(everything).not.toContain('hunter2');
    expect(everything).not.toContain('token-s3cr3t');
    expect(JSON.stringify(new StaticTokenSource('token-s3cr3t'))).not.toContain('token-s3cr3t');
  });
});
