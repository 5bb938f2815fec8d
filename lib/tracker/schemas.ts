/** Iglu URIs of every schema the library writes. */
export const SCHEMAS = {
  payloadData: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
  unstructEvent: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
  contexts: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
  customEvent: 'iglu:com.gitlab/custom_event/jsonschema/1-0-0',
  billableUsage: 'iglu:com.gitlab/billable_usage/jsonschema/1-0-2',
  /** The built-in request entity of the module's `requestEntity` option. */
  request: 'iglu:dev.nestjs-snowplow/request/jsonschema/1-0-0',
} as const;
