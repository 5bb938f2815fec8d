import { Controller, Post } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import {
  BillingEventOptionalInput,
  BillingEventRequiredInput,
  TrackBillingEvent,
  TrackBillingEventInterceptor,
  TrackEvent,
  TrackEventInterceptor,
} from '../../lib';
import {
  getTrackBillingEventMetadata,
  TRACK_BILLING_EVENT_METADATA,
  TrackBillingEventMetadata,
} from '../../lib/interceptors/track-billing-event.metadata';
import { decorationError } from './support/decoration';

const input: BillingEventRequiredInput = {
  category: 'duo',
  eventType: 'tokens',
  realm: 'SaaS',
  unitOfMeasure: 'token',
  quantity: 1,
};
const fromResult = () => input;

/** Decorates a fresh method with `@TrackBillingEvent(...args)` (bypassing the compile-time types). */
function decorateMethod(...args: unknown[]): void {
  const track = TrackBillingEvent as (...a: unknown[]) => MethodDecorator;
  class Fixture {
    @track(...args)
    handler(): void {}
  }
  void Fixture;
}

describe('@TrackBillingEvent at decoration time', () => {
  it.each([
    ['a numeric input', [42], 'input', /must be an object or a function, got number/],
    ['a missing input', [undefined], 'input', /must be an object or a function, got undefined/],
    ['an array input', [[input]], 'input', /got an array/],
    ['a static input without category', [{ ...input, category: undefined }], 'input.category', /is required/],
    ['a static input with quantity 0', [{ ...input, quantity: 0 }], 'input.quantity', /greater than 0, got 0/],
    ["a static realm 'saas'", [{ ...input, realm: 'saas' }], 'input.realm', /one of SaaS, Dedicated, SM/],
    ['options that are not an object', [fromResult, 'success'], 'options', /must be an object, got string/],
    [
      'an unknown option',
      [fromResult, { optinal: {} }],
      'options.optinal',
      /unknown option \(expected one of: optional, on, entities, subject, tracker\)/,
    ],
    ['an unknown on value', [fromResult, { on: 'never' }], 'options.on', /got "never"/],
    ['a string optional', [fromResult, { optional: 'x' }], 'options.optional', /object or a function, got string/],
    [
      'a static optional with a bad id',
      [fromResult, { optional: { projectId: -1 } }],
      'options.optional.projectId',
      /non-negative safe integer, got -1/,
    ],
    [
      'static metadata that is an array',
      [fromResult, { optional: { metadata: [] } }],
      'options.optional.metadata',
      /must be a plain object, got an array/,
    ],
    [
      'entities that are a string',
      [fromResult, { entities: 'cart' }],
      'options.entities',
      /array of \{schema, data\} or a function, got string/,
    ],
    [
      'an entity with a malformed schema',
      [fromResult, { entities: [{ schema: 'iglu:com.acme/cart', data: {} }] }],
      'options.entities[0].schema',
      /must be an Iglu URI of the form/,
    ],
    [
      'an entity whose data is an array',
      [fromResult, { entities: [{ schema: 'iglu:com.acme/cart/jsonschema/1-0-0', data: [] }] }],
      'options.entities[0].data',
      /must be a plain object, got an array/,
    ],
    ['a subject ip that is a number', [fromResult, { subject: { ip: 1 } }], 'options.subject.ip', /got number/],
  ])('rejects %s naming the argument', (_what, args, option, reason) => {
    const error = decorationError(() => decorateMethod(...args));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain('@TrackBillingEvent on Fixture.handler');
  });

  it('stores a checked plain copy of static inputs, and functions as they are', () => {
    const optional: BillingEventOptionalInput = {
      projectId: 0,
      seatIds: ['a'],
      metadata: { plan: 'gold' },
      subject: '',
    };
    const required = { ...input };
    const optionalFn = () => ({ projectId: 1 });
    const entity = { schema: 'iglu:com.acme/cart/jsonschema/1-0-0', data: { items: 1 } };
    const subject = { uid: 'u-1' };
    const entitiesFn = () => [entity];

    class Fixture {
      @TrackBillingEvent(required, { optional, on: 'always', entities: [entity], subject })
      fixed(): void {}

      @TrackBillingEvent(fromResult, { optional: optionalFn, entities: entitiesFn })
      dynamic(): void {}
    }
    required.quantity = 99;
    optional.seatIds!.push('b');
    (optional.metadata as Record<string, unknown>).plan = 'changed';
    entity.data.items = 99;
    subject.uid = 'changed';

    const fixed = Reflect.getOwnMetadata(TRACK_BILLING_EVENT_METADATA, Fixture.prototype.fixed);
    expect(fixed).toEqual<TrackBillingEventMetadata>({
      input: { ...input, quantity: 1 },
      optional: { seatIds: ['a'], metadata: { plan: 'gold' } },
      on: 'always',
      entities: [{ schema: 'iglu:com.acme/cart/jsonschema/1-0-0', data: { items: 1 } }],
      subject: { uid: 'u-1' },
      tracker: 'default',
      where: 'Fixture.fixed',
    });
    expect(getTrackBillingEventMetadata(Fixture.prototype.dynamic, Fixture)).toEqual({
      input: fromResult,
      optional: optionalFn,
      on: 'success',
      entities: entitiesFn,
      tracker: 'default',
      where: 'Fixture.dynamic',
    });
  });

  it('binds its interceptor next to @TrackEvent, each once, on a method and along a class chain', () => {
    @Controller('usage')
    @TrackBillingEvent(fromResult)
    class UsageController {
      @Post()
      @TrackEvent('used')
      @TrackBillingEvent(fromResult)
      use(): void {}
    }
    @TrackBillingEvent(fromResult, { on: 'error' })
    class SubController extends UsageController {}

    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, UsageController.prototype.use)).toEqual([
      TrackBillingEventInterceptor,
      TrackEventInterceptor,
    ]);
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, UsageController)).toEqual([TrackBillingEventInterceptor]);
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, SubController)).toEqual([TrackBillingEventInterceptor]);
    expect(getTrackBillingEventMetadata({}, SubController)?.on).toBe('error');
  });

  it('rejects being applied twice to one method, and a property', () => {
    expect(
      decorationError(() => {
        class Twice {
          @TrackBillingEvent(fromResult)
          @TrackBillingEvent(fromResult)
          handler(): void {}
        }
        return Twice;
      }).message,
    ).toMatch(/@TrackBillingEvent is applied more than once to Twice\.handler/);
    const track = TrackBillingEvent(fromResult) as unknown as PropertyDecorator;
    expect(
      decorationError(() => {
        class WithProperty {
          @track
          value = 1;
        }
        return WithProperty;
      }).message,
    ).toMatch(/only decorate a class or a method, not WithProperty\.value/);
  });
});
