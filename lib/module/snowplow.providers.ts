import { HttpService } from '@nestjs/axios';
import { Logger, Provider } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Axios, AxiosInstance } from 'axios';
import { Emitter } from '../emitter/emitter';
import { SnowplowEmitter } from '../emitter/snowplow-emitter';
import { EmitterMetrics } from '../metrics';
import type { GlobalEntity } from '../tracker/global-entities';
import { Tracker, TrackerOptions } from '../tracker/tracker';
import { currentRequestContext } from './request-context';
import { RequestContextInterceptor } from './request-context.interceptor';
import { entityErrorReporter, requestEntity } from './request-entity';
import { requestSubject } from './request-subject';
import { ModuleParts, SnowplowModuleOptions, splitModuleOptions } from './snowplow-module-options';
import { SNOWPLOW_MODULE_OPTIONS } from './snowplow.module-definition';
import {
  SNOWPLOW_EMITTER,
  SNOWPLOW_LOG_CONTEXT,
  SNOWPLOW_METRICS,
  SNOWPLOW_MODULE_PARTS,
  SNOWPLOW_TRACK_ERRORS,
  SNOWPLOW_TRACKER,
} from './snowplow.tokens';
import { TrackErrorSink } from './track-error-sink';

export { SNOWPLOW_LOG_CONTEXT } from './snowplow.tokens';

/** The correlation id of the request the caller runs for: what the core tracker bills under by default. */
const requestCorrelationId = (): string | undefined => currentRequestContext()?.correlationId;

/** The tracker's `entities`: the module's, then the built-in request entity when asked for. */
function globalEntities(parts: ModuleParts): Pick<TrackerOptions, 'entities'> {
  if (!parts.requestEntity) return parts.tracker.entities === undefined ? {} : { entities: parts.tracker.entities };
  // Not an array: the tracker refuses it, naming `entities`.
  const own = parts.tracker.entities;
  return { entities: Array.isArray(own) ? [...(own as GlobalEntity[]), requestEntity()] : (own ?? [requestEntity()]) };
}

/**
 * The module's providers: factories over the core objects. The options are checked once, the
 * metrics and the emitter built from them, and the tracker over the emitter; the services and
 * the lifecycle provider only use what these give. The request-context interceptor is global.
 */
export const snowplowProviders: Provider[] = [
  {
    provide: SNOWPLOW_MODULE_PARTS,
    useFactory: (options: SnowplowModuleOptions): ModuleParts => splitModuleOptions(options),
    inject: [SNOWPLOW_MODULE_OPTIONS],
  },
  {
    provide: SNOWPLOW_METRICS,
    useFactory: (parts: ModuleParts): EmitterMetrics | undefined =>
      parts.metrics === false ? undefined : new EmitterMetrics(parts.metrics),
    inject: [SNOWPLOW_MODULE_PARTS],
  },
  {
    provide: SNOWPLOW_EMITTER,
    useFactory: (parts: ModuleParts, metrics: EmitterMetrics | undefined): SnowplowEmitter => {
      // An HttpService of its own unless the app passes one: app-wide axios defaults and
      // interceptors never see collector traffic by accident (an Axios built from `http` alone,
      // where axios.create() would copy whatever the app put in axios.defaults).
      const http = parts.httpService ?? new HttpService(new Axios(parts.http) as unknown as AxiosInstance);
      const emitter = new Emitter({
        ...parts.emitter,
        httpClient: http.axiosRef,
        logger: new Logger(SNOWPLOW_LOG_CONTEXT),
        observer: metrics,
      });
      metrics?.watch(emitter);
      return emitter;
    },
    inject: [SNOWPLOW_MODULE_PARTS, SNOWPLOW_METRICS],
  },
  {
    provide: SNOWPLOW_TRACKER,
    useFactory: (parts: ModuleParts, emitter: SnowplowEmitter, trackErrors: TrackErrorSink): Tracker =>
      new Tracker({
        ...parts.tracker,
        emitter,
        defaultCorrelationId: requestCorrelationId,
        ...(parts.subject ? { contextSubject: requestSubject(parts.subject, trackErrors) } : {}),
        ...globalEntities(parts),
        onEntityError: entityErrorReporter(trackErrors),
      }),
    inject: [SNOWPLOW_MODULE_PARTS, SNOWPLOW_EMITTER, SNOWPLOW_TRACK_ERRORS],
  },
  {
    provide: SNOWPLOW_TRACK_ERRORS,
    useFactory: (metrics: EmitterMetrics | undefined): TrackErrorSink => metrics ?? { trackError: () => undefined },
    inject: [SNOWPLOW_METRICS],
  },
  { provide: APP_INTERCEPTOR, useClass: RequestContextInterceptor },
];
