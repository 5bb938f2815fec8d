import { SnowplowModule } from 'nestjs-snowplow';
import { APP_ID } from './subjects';

/** SnowplowModule with defaults, sending to the bench collector: what the Nest children import. */
export function benchSnowplowModule(collectorPort: number) {
  return SnowplowModule.forRoot({
    appId: APP_ID,
    collectorUrl: `http://127.0.0.1:${collectorPort}/com.snowplowanalytics.snowplow/tp2`,
  });
}
