import { Type, UseInterceptors } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import { InvalidOptionError } from '../errors';

function isBound(target: object, interceptor: Type): boolean {
  const interceptors = Reflect.getMetadata(INTERCEPTORS_METADATA, target) as unknown[] | undefined;
  return Array.isArray(interceptors) && interceptors.includes(interceptor);
}

function describeKey(key: string | symbol): string {
  return typeof key === 'symbol' ? `[${key.description ?? 'symbol'}]` : key;
}

/**
 * A decorator for a handler or a class of handlers, as `@TrackEvent` and `@TrackBillingEvent` are:
 * `resolve(where)` checks the decorator's arguments for `Class.method` (or `Class`) and gives the
 * metadata stored under `metadataKey`; the interceptor of the instance it names
 * (`interceptorFor(metadata.tracker)`) is bound once along a class chain and once per method.
 * Applying it twice to one target, or to a property, throws `InvalidOptionError`.
 */
export function handlerDecorator(
  label: string,
  metadataKey: string,
  interceptorFor: (tracker: string) => Type,
  resolve: (where: string) => { tracker: string },
): ClassDecorator & MethodDecorator {
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (key === undefined) {
      if (typeof target !== 'function') {
        throw new InvalidOptionError('target', `${label} can only decorate a class or a method`);
      }
      const where = target.name || 'anonymous class';
      if (Reflect.hasOwnMetadata(metadataKey, target)) {
        throw new InvalidOptionError('target', `${label} is applied more than once to ${where}`);
      }
      const metadata = resolve(where);
      Reflect.defineMetadata(metadataKey, metadata, target);
      // A subclass inherits its parent's interceptors: bind once along the chain.
      const interceptor = interceptorFor(metadata.tracker);
      if (!isBound(target, interceptor)) UseInterceptors(interceptor)(target);
      return target;
    }
    const className = (typeof target === 'function' ? target.name : target.constructor?.name) || 'anonymous class';
    const where = `${className}.${describeKey(key)}`;
    if (!descriptor || typeof descriptor.value !== 'function') {
      throw new InvalidOptionError('target', `${label} can only decorate a class or a method, not ${where}`);
    }
    const handler = descriptor.value as object;
    if (Reflect.hasOwnMetadata(metadataKey, handler)) {
      throw new InvalidOptionError('target', `${label} is applied more than once to ${where}`);
    }
    const metadata = resolve(where);
    Reflect.defineMetadata(metadataKey, metadata, handler);
    const interceptor = interceptorFor(metadata.tracker);
    if (!isBound(handler, interceptor)) UseInterceptors(interceptor)(target, key, descriptor);
    return descriptor;
  }) as ClassDecorator & MethodDecorator;
}
