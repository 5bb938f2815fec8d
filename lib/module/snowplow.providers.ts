import { HttpService } from '@nestjs/axios';
import { InjectionToken, Logger, Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, ModulesContainer } from '@nestjs/core';
import { Axios, AxiosInstance } from 'axios';
import { Emitter } from '../emitter/emitter';
import { SnowplowEmitter } from '../emitter/snowplow-emitter';
import { EmitterMetrics } from '../metrics';
import type { GlobalEntity } from '../tracker/global-entities';
import { Tracker, TrackerOptions } from '../tracker/tracker';
import { EmitterService } from './emitter.service';
import { needsRequestContext, RequestContextInterceptor } from './request-context.interceptor';
import { entityErrorReporter, requestEntity } from './request-entity';
import { requestSubject } from './request-subject';
import { ModuleParts, SnowplowModuleOptions, splitModuleOptions } from './snowplow-module-options';
import { SnowplowInstance, snowplowInstance } from './snowplow-instance';
import { SnowplowLifecycle } from './snowplow.lifecycle';
import { SNOWPLOW_MODULE_OPTIONS } from './snowplow.module-definition';
import { DEFAULT_TRACKER_NAME, snowplowToken } from './snowplow.tokens';
import { TrackErrorSink } from './track-error-sink';
import { TrackerService } from './tracker.service';

export { SNOWPLOW_LOG_CONTEXT } from './snowplow.tokens';

/** The tracker's `entities`: the module's, then the built-in request entity when asked for. */
function globalEntities(parts: ModuleParts, instance: SnowplowInstance): Pick<TrackerOptions, 'entities'> {
  if (!parts.requestEntity) return parts.tracker.entities === undefined ? {} : { entities: parts.tracker.entities };
  const entity = requestEntity(instance.requests);
  // Not an array: the tracker refuses it, naming `entities`.
  const own = parts.tracker.entities;
  return { entities: Array.isArray(own) ? [...(own as GlobalEntity[]), entity] : (own ?? [entity]) };
}

/**
 * The token of `TrackerService` (`part: 'tracker'`) or `EmitterService` (`'emitter'`) of the
 * instance `name`: the class itself for the default instance, a symbol of the instance's own for a
 * named one. `@InjectTracker(name)` and `@InjectEmitter(name)` inject these.
 */
export function serviceToken(part: 'tracker' | 'emitter', name: string = DEFAULT_TRACKER_NAME): InjectionToken {
  if (name === DEFAULT_TRACKER_NAME) return part === 'tracker' ? TrackerService : EmitterService;
  return snowplowToken(part === 'tracker' ? 'tracker-service' : 'emitter-service', name);
}

/**
 * The token of the options of the instance `name`: `SNOWPLOW_MODULE_OPTIONS` for the default one,
 * a symbol of its own for a named one (whose module renames the builder's options provider), so
 * `app.get(SNOWPLOW_MODULE_OPTIONS)` never finds a named instance's options.
 */
export function optionsToken(name: string = DEFAULT_TRACKER_NAME): string | symbol {
  return name === DEFAULT_TRACKER_NAME ? SNOWPLOW_MODULE_OPTIONS : snowplowToken('options', name);
}

/**
 * The providers of the instance `name`: factories over the core objects, each under the
 * instance's own token. The options are checked once, the metrics and the emitter built from
 * them, and the tracker over the emitter; the services and the lifecycle provider only use what
 * these give. Each instance registers its own request-context interceptor (global, over its own
 * request contexts), when one of its options reads the context.
 */
export function snowplowProviders(name: string = DEFAULT_TRACKER_NAME): Provider[] {
  const token = (part: Parameters<typeof snowplowToken>[0]) => snowplowToken(part, name);
  return [
    { provide: token('instance'), useFactory: (): SnowplowInstance => snowplowInstance(name) },
    {
      provide: token('module-parts'),
      useFactory: (options: SnowplowModuleOptions): ModuleParts => splitModuleOptions(options),
      inject: [optionsToken(name)],
    },
    {
      provide: token('metrics'),
      useFactory: (parts: ModuleParts): EmitterMetrics | undefined =>
        parts.metrics === false ? undefined : new EmitterMetrics({ ...parts.metrics, tracker: name }),
      inject: [token('module-parts')],
    },
    {
      provide: token('emitter'),
      useFactory: (parts: ModuleParts, metrics: EmitterMetrics | undefined, instance: SnowplowInstance) => {
        // An HttpService of its own unless the app passes one: app-wide axios defaults and
        // interceptors never see collector traffic by accident (an Axios built from `http` alone,
        // where axios.create() would copy whatever the app put in axios.defaults).
        const http = parts.httpService ?? new HttpService(new Axios(parts.http) as unknown as AxiosInstance);
        const emitter: SnowplowEmitter = new Emitter({
          ...parts.emitter,
          httpClient: http.axiosRef,
          logger: new Logger(instance.logContext),
          observer: metrics,
        });
        metrics?.watch(emitter);
        return emitter;
      },
      inject: [token('module-parts'), token('metrics'), token('instance')],
    },
    {
      provide: token('tracker'),
      useFactory: (
        parts: ModuleParts,
        emitter: SnowplowEmitter,
        trackErrors: TrackErrorSink,
        instance: SnowplowInstance,
      ): Tracker =>
        new Tracker({
          ...parts.tracker,
          emitter,
          // The correlation id of the request the caller runs for: what billing events get by default.
          defaultCorrelationId: () => instance.requests.current()?.correlationId,
          ...(parts.subject ? { contextSubject: requestSubject(parts.subject, trackErrors, instance) } : {}),
          ...globalEntities(parts, instance),
          onEntityError: entityErrorReporter(trackErrors, instance.logContext),
        }),
      inject: [token('module-parts'), token('emitter'), token('track-errors'), token('instance')],
    },
    {
      provide: token('track-errors'),
      useFactory: (metrics: EmitterMetrics | undefined): TrackErrorSink => metrics ?? { trackError: () => undefined },
      inject: [token('metrics')],
    },
    {
      provide: serviceToken('tracker', name),
      useFactory: (tracker: Tracker, trackErrors: TrackErrorSink, parts: ModuleParts, instance: SnowplowInstance) =>
        new TrackerService(tracker, trackErrors, parts, instance),
      inject: [token('tracker'), token('track-errors'), token('module-parts'), token('instance')],
    },
    {
      provide: serviceToken('emitter', name),
      useFactory: (emitter: SnowplowEmitter, metrics: EmitterMetrics | undefined) =>
        new EmitterService(emitter, metrics),
      inject: [token('emitter'), token('metrics')],
    },
    {
      provide: token('lifecycle'),
      useFactory: (
        emitter: SnowplowEmitter,
        metrics: EmitterMetrics | undefined,
        parts: ModuleParts,
        instance: SnowplowInstance,
        modules: ModulesContainer,
      ) => new SnowplowLifecycle(emitter, metrics, parts, instance, modules),
      inject: [token('emitter'), token('metrics'), token('module-parts'), token('instance'), ModulesContainer],
    },
    {
      provide: APP_INTERCEPTOR,
      // None when no option reads a context: Nest skips a global interceptor whose factory gives
      // null, so no handler call pays even for a pass-through interceptor.
      useFactory: (parts: ModuleParts, metrics: EmitterMetrics | undefined, instance: SnowplowInstance) =>
        needsRequestContext(parts) ? new RequestContextInterceptor(parts, metrics, instance) : null,
      inject: [token('module-parts'), token('metrics'), token('instance')],
    },
  ];
}
