import type { ExecutionContext } from '@nestjs/common';

/** Where the correlation id is looked for when `correlationIdHeaders` is not set. */
export const DEFAULT_CORRELATION_ID_HEADERS: readonly string[] = ['x-request-id', 'x-correlation-id'];

type Headers = Record<string, unknown>;
type Lookup = (name: string) => unknown;

/**
 * The correlation id of a handler call: the value of the first of `names` (lower case) present,
 * or `undefined`. Read from the HTTP request's headers (`http`; `graphql`, from the request in the
 * GraphQL context), or from what the microservice transport gives the handler's context (`rpc`):
 * TCP and Redis packet metadata (`ClientProxy#setOnDispatchHook`), NATS headers, RabbitMQ message
 * headers, Kafka message headers, MQTT 5 user properties and gRPC metadata. WebSocket messages
 * carry none. Only strings (and Kafka's buffers) count; an empty value is not an id.
 */
export function readCorrelationId(context: ExecutionContext, names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  const args = context.getArgs();
  switch (context.getType<string>()) {
    case 'http':
      return fromRecord((args[0] as { headers?: Headers } | undefined)?.headers, names, false);
    case 'graphql':
      return fromRecord((graphqlRequest(args[2]) as { headers?: Headers } | undefined)?.headers, names, false);
    case 'rpc':
      return fromRpcContext(args[1], names);
    default:
      return undefined;
  }
}

/** The HTTP request of a GraphQL context: `req` (Express drivers) or `request` (Fastify). */
export function graphqlRequest(graphqlContext: unknown): unknown {
  if (graphqlContext === null || typeof graphqlContext !== 'object') return undefined;
  const { req, request } = graphqlContext as { req?: unknown; request?: unknown };
  return req ?? request;
}

function fromRpcContext(rpc: unknown, names: readonly string[]): string | undefined {
  if (rpc === null || typeof rpc !== 'object') return undefined;
  const ctx = rpc as Record<string, unknown>;
  // TCP and Redis: the packet's metadata.
  if (typeof ctx.getMetadata === 'function') return fromRecord(call(ctx, 'getMetadata'), names);
  // NATS: a MsgHdrs with get(), when the client sent headers (NatsRecordBuilder#setHeaders).
  if (typeof ctx.getHeaders === 'function') return fromHeaderMap(call(ctx, 'getHeaders'), names);
  // RabbitMQ (message.properties.headers) and Kafka (message.headers).
  if (typeof ctx.getMessage === 'function') {
    const message = call(ctx, 'getMessage') as { properties?: { headers?: Headers }; headers?: Headers } | undefined;
    return fromRecord(message?.properties?.headers ?? message?.headers, names);
  }
  // MQTT 5: user properties of the packet.
  if (typeof ctx.getPacket === 'function') {
    const packet = call(ctx, 'getPacket') as { properties?: { userProperties?: Headers } } | undefined;
    return fromRecord(packet?.properties?.userProperties, names);
  }
  // gRPC: the call's Metadata, whose get() returns every value of a key.
  if (typeof ctx.get === 'function' && typeof ctx.getMap === 'function') return fromHeaderMap(ctx, names);
  return undefined;
}

function call(target: Record<string, unknown>, method: string): unknown {
  return (target[method] as () => unknown).call(target);
}

/**
 * A plain record of headers: the lower-case key, and with `anyCase` (message metadata, whose keys
 * are as the sender wrote them) any casing of it. Node gives HTTP headers in lower case.
 */
function fromRecord(headers: unknown, names: readonly string[], anyCase = true): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const record = headers as Headers;
  let lowerCased: Map<string, unknown> | undefined;
  for (const name of names) {
    let value = record[name];
    if (value === undefined && anyCase) {
      lowerCased ??= new Map(Object.keys(record).map((key) => [key.toLowerCase(), record[key]]));
      value = lowerCased.get(name);
    }
    const id = idOf(value);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** Headers behind a `get(name)` (NATS MsgHdrs, gRPC Metadata). */
function fromHeaderMap(headers: unknown, names: readonly string[]): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get !== 'function') return fromRecord(headers, names);
  const lookup: Lookup = (name) => (get as Lookup).call(headers, name);
  for (const name of names) {
    const id = idOf(lookup(name));
    if (id !== undefined) return id;
  }
  return undefined;
}

function idOf(value: unknown): string | undefined {
  if (Array.isArray(value)) return idOf(value[0]);
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (Buffer.isBuffer(value)) return idOf(value.toString('utf8'));
  return undefined;
}
