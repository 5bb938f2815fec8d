import { Controller, Get } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import { TrackEvent } from '../../lib/decorators';
import {
  TRACK_EVENT_METADATA,
  TrackEventMetadata,
  getTrackEventMetadata,
} from '../../lib/interceptors/track-event.metadata';
import { InvalidEventError } from '../../lib/errors';
import { TrackEventInterceptor } from '../../lib/interceptors';
import { Tracker } from '../../lib/tracker';
import { decorationError } from './support/decoration';

const CHECKOUT = 'iglu:com.acme/checkout/jsonschema/1-0-0';
const CART = 'iglu:com.acme/cart/jsonschema/1-0-0';
/** An entities array whose first index is a hole. */
const holey: unknown[] = [];
holey[1] = { schema: CART, data: {} };

/** Decorates a fresh method with `@TrackEvent(...args)` (bypassing the compile-time types). */
function decorateMethod(...args: unknown[]): void {
  const track = TrackEvent as (...a: unknown[]) => MethodDecorator;
  class Fixture {
    @track(...args)
    handler(): void {}
  }
  void Fixture;
}

describe('@TrackEvent at decoration time', () => {
  it.each([
    ['an empty name', [''], 'name', /must not be empty/],
    ['a whitespace name', ['   '], 'name', /must not be empty/],
    ['a non-string name', [42], 'name', /must be a string, got number/],
    ['a missing name', [undefined], 'name', /must be a string, got undefined/],
    ['a name over 255 characters', ['x'.repeat(256)], 'name', /at most 255 characters/],
    ['options that are not an object', ['ok', 'success'], 'options', /must be an object, got string/],
    ['an unknown on value', ['ok', { on: 'sometimes' }], 'options.on', /got "sometimes"/],
    ['a non-string on value', ['ok', { on: 1 }], 'options.on', /got number/],
    ['numeric props', ['ok', { props: 42 }], 'options.props', /plain object or a function, got number/],
    ['array props', ['ok', { props: [1] }], 'options.props', /got an array/],
    ['class-instance props', ['ok', { props: new Date() }], 'options.props', /an instance of Date/],
    ['props with a BigInt', ['ok', { props: { n: 1n } }], 'options.props', /BigInt/],
    ['props whose toJSON returns a number', ['ok', { props: { toJSON: () => 5 } }], 'options.props', /gives a number/],
    ['toJSON-undefined props', ['ok', { props: { toJSON: () => undefined } }], 'options.props', /undefined/],
    ['props whose toJSON returns an array', ['ok', { props: { toJSON: () => [] } }], 'options.props', /gives an array/],
    [
      'an unknown option',
      ['ok', { prop: {} }],
      'options.prop',
      /unknown option \(expected one of: props, on, entities, subject, tracker\)/,
    ],
    // The self-describing form: its event, checked with the tracker's rules.
    [
      'an array event',
      [[CHECKOUT]],
      'event',
      /an event name or a self-describing event \{schema, data\}, got an array/,
    ],
    ['a class-instance event', [new Date()], 'event', /got an instance of Date/],
    ['an event without schema', [{ data: {} }], 'event.schema', /is required: an Iglu URI/],
    ['a malformed schema', [{ schema: 'com.acme/checkout', data: {} }], 'event.schema', /iglu:vendor\/name/],
    ['a numeric schema', [{ schema: 7, data: {} }], 'event.schema', /must be an Iglu URI, got number/],
    ['an event without data', [{ schema: CHECKOUT }], 'event.data', /is required: a plain object, or a function/],
    ['null data', [{ schema: CHECKOUT, data: null }], 'event.data', /is required/],
    ['array data', [{ schema: CHECKOUT, data: [1] }], 'event.data', /must be a plain object, got an array/],
    ['data with a BigInt', [{ schema: CHECKOUT, data: { n: 1n } }], 'event.data', /BigInt/],
    ['an unknown event field', [{ schema: CHECKOUT, data: {}, props: {} }], 'event.props', /not a field/],
    ['props beside an event', [{ schema: CHECKOUT, data: {} }, { props: {} }], 'options.props', /event name's/],
    ['an unknown on with an event', [{ schema: CHECKOUT, data: {} }, { on: 'never' }], 'options.on', /"never"/],
    // entities and subject, on either form.
    [
      'entities that are an object',
      ['ok', { entities: {} }],
      'options.entities',
      /array .* or a function, got an object/,
    ],
    ['an entity without data', ['ok', { entities: [{ schema: CART }] }], 'options.entities[0].data', /is required/],
    [
      'an entity with a bad schema',
      [
        { schema: CHECKOUT, data: {} },
        {
          entities: [
            { schema: CART, data: {} },
            { schema: 'cart', data: {} },
          ],
        },
      ],
      'options.entities[1].schema',
      /must be an Iglu URI/,
    ],
    ['an entity that is a string', ['ok', { entities: ['x'] }], 'options.entities[0]', /must be an object, got string/],
    ['a hole in entities', ['ok', { entities: holey }], 'options.entities[0]', /is a hole/],
    ['a subject that is a string', ['ok', { subject: 'u-1' }], 'options.subject', /must be an object, got string/],
    ['a fractional subject vid', ['ok', { subject: { vid: 1.5 } }], 'options.subject.vid', /integer/],
    ['an unknown subject field', ['ok', { subject: { user: 'u' } }], 'options.subject.user', /not a subject field/],
  ])('rejects %s naming the argument', (_what, args, option, reason) => {
    const error = decorationError(() => decorateMethod(...args));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain('@TrackEvent on Fixture.handler');
  });

  it.each([[''], ['   '], [42], [undefined], ['x'.repeat(256)]])(
    "refuses the name %p with the tracker's rule and wording",
    (name) => {
      const tracker = new Tracker({ appId: 'app', emitter: { enqueue: () => undefined } });
      let trackerError: unknown;
      try {
        tracker.trackEvent(name as string);
      } catch (err) {
        trackerError = err;
      }
      expect(trackerError).toBeInstanceOf(InvalidEventError);
      const reason = (trackerError as Error).message.replace('Invalid event field "name": ', '');
      const error = decorationError(() => decorateMethod(name));
      expect(error.message).toBe(`Invalid Snowplow option "name": @TrackEvent on Fixture.handler: ${reason}`);
    },
  );

  it('stores static props as what they serialise to (a toJSON included)', () => {
    class WithToJson {
      @TrackEvent('to_json', { props: { toJSON: () => ({ shown: true }), hidden: 1 } })
      handler(): void {}
    }
    expect(getTrackEventMetadata(WithToJson.prototype.handler, WithToJson)?.props).toEqual({ shown: true });
  });

  it('rejects circular static props', () => {
    const props: Record<string, unknown> = {};
    props.self = props;
    const error = decorationError(() => decorateMethod('ok', { props }));
    expect(error.option).toBe('options.props');
    expect(error.message).toMatch(/circular/);
  });

  it('rejects a bad class-level name at class definition', () => {
    const error = decorationError(() => {
      @TrackEvent('')
      class BadController {}
      return BadController;
    });
    expect(error.option).toBe('name');
    expect(error.message).toContain('@TrackEvent on BadController');
  });

  it('rejects being applied twice to the same method or class', () => {
    expect(
      decorationError(() => {
        class Twice {
          @TrackEvent('a')
          @TrackEvent('b')
          handler(): void {}
        }
        return Twice;
      }).message,
    ).toMatch(/more than once to Twice\.handler/);
    expect(
      decorationError(() => {
        @TrackEvent('a')
        @TrackEvent('b')
        class TwiceClass {}
        return TwiceClass;
      }).message,
    ).toMatch(/more than once to TwiceClass/);
  });

  it('rejects a property', () => {
    const track = TrackEvent('ok') as unknown as PropertyDecorator;
    const error = decorationError(() => {
      class WithProperty {
        @track
        value = 1;
      }
      return WithProperty;
    });
    expect(error.message).toMatch(/only decorate a class or a method, not WithProperty\.value/);
  });

  it('stores validated options and binds its interceptor once per method and once per class chain', () => {
    const props = { plan: 'gold', nested: { seats: 3 } };

    @Controller('base')
    @TrackEvent('base_evt')
    class BaseController {
      @Get('a')
      a(): void {}

      @Get('own')
      @TrackEvent('own_evt', { props, on: 'always' })
      own(): void {}
    }

    @Controller('sub')
    @TrackEvent('sub_evt', { on: 'error' })
    class SubController extends BaseController {}

    props.plan = 'changed after decoration';
    const own = Reflect.getOwnMetadata(TRACK_EVENT_METADATA, BaseController.prototype.own) as TrackEventMetadata;
    expect(own).toEqual({
      name: 'own_evt',
      on: 'always',
      props: { plan: 'gold', nested: { seats: 3 } },
      tracker: 'default',
      where: 'BaseController.own',
    });
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, BaseController.prototype.own)).toEqual([TrackEventInterceptor]);
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, BaseController)).toEqual([TrackEventInterceptor]);
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, SubController)).toEqual([TrackEventInterceptor]);

    // The method's own options win; a class without its own falls back to its parent's.
    expect(getTrackEventMetadata(BaseController.prototype.own, SubController)?.name).toBe('own_evt');
    expect(getTrackEventMetadata(BaseController.prototype.a, BaseController)).toMatchObject({
      name: 'base_evt',
      on: 'success',
    });
    expect(getTrackEventMetadata(BaseController.prototype.a, SubController)).toMatchObject({
      name: 'sub_evt',
      on: 'error',
    });
  });

  it('keeps a props function as given', () => {
    const props = () => ({ a: 1 });
    class WithFunction {
      @TrackEvent('fn_evt', { props })
      handler(): void {}
    }
    expect(getTrackEventMetadata(WithFunction.prototype.handler, WithFunction)?.props).toBe(props);
  });

  it('types the props context after `on` (checked by tsc)', () => {
    class Typed {
      @TrackEvent<unknown, { id: number }>('typed_success', {
        props: ({ result, outcome }) => ({ id: result.id, outcome }),
      })
      success(): void {}

      @TrackEvent('typed_error', { on: 'error', props: ({ error, outcome }) => ({ outcome, error: String(error) }) })
      error(): void {}

      @TrackEvent<unknown, { id: number }>('typed_error_result', {
        on: 'error',
        // @ts-expect-error an error context has no result
        props: ({ result }) => ({ id: result.id }),
      })
      errorResult(): void {}

      @TrackEvent<unknown, { id: number }>('typed_always', {
        on: 'always',
        props: (ctx) => (ctx.outcome === 'success' ? { id: ctx.result.id } : { error: String(ctx.error) }),
      })
      always(): void {}
    }
    expect(getTrackEventMetadata(Typed.prototype.always, Typed)?.on).toBe('always');
  });
  it('stores a self-describing event, its entities and subject as plain copies; functions as given', () => {
    const data = { orderId: 'o-1', total: 1, toJSON: undefined as unknown };
    const entity = { schema: CART, data: { items: 2 } };
    const subject = { uid: 'u-1' };
    const dataFn = () => ({ orderId: 'o-2', total: 2 });
    const entitiesFn = () => [entity];
    const subjectFn = () => subject;
    class Fixture {
      @TrackEvent({ schema: CHECKOUT, data }, { on: 'always', entities: [entity], subject })
      fixed(): void {}

      @TrackEvent({ schema: CHECKOUT, data: dataFn }, { entities: entitiesFn, subject: subjectFn })
      dynamic(): void {}
    }
    data.orderId = 'changed';
    entity.data.items = 99;
    subject.uid = 'changed';

    expect(getTrackEventMetadata(Fixture.prototype.fixed, Fixture)).toEqual({
      schema: CHECKOUT,
      data: { orderId: 'o-1', total: 1 },
      on: 'always',
      entities: [{ schema: CART, data: { items: 2 } }],
      subject: { uid: 'u-1' },
      tracker: 'default',
      where: 'Fixture.fixed',
    });
    expect(getTrackEventMetadata(Fixture.prototype.dynamic, Fixture)).toEqual({
      schema: CHECKOUT,
      data: dataFn,
      on: 'success',
      entities: entitiesFn,
      subject: subjectFn,
      tracker: 'default',
      where: 'Fixture.dynamic',
    });
  });

  it('types the self-describing form and the entities after `on` (checked by tsc)', () => {
    class Typed {
      @TrackEvent<unknown, { id: string }>(
        { schema: CHECKOUT, data: ({ result }) => ({ orderId: result.id }) },
        {
          entities: ({ result }) => [{ schema: CART, data: { id: result.id } }],
          subject: ({ result }) => ({ uid: result.id }),
        },
      )
      success(): void {}

      @TrackEvent<unknown, { id: string }>(
        // @ts-expect-error an error context has no result
        { schema: CHECKOUT, data: ({ result }) => ({ orderId: result.id }) },
        { on: 'error' },
      )
      errorResult(): void {}

      @TrackEvent(
        { schema: CHECKOUT, data: { orderId: 'o' } },
        // @ts-expect-error an error context has no result
        { on: 'error', entities: ({ result }) => [{ schema: CART, data: { items: result.items } }] },
      )
      errorEntities(): void {}
    }
    expect(getTrackEventMetadata(Typed.prototype.success, Typed)?.on).toBe('success');
  });
});
