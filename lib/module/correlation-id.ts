import type { ExecutionContext } from '@nestjs/common';

/** Where the correlation id is looked for when `correlationIdHeaders` is not set. */
export const DEFAULT_CORRELATION_ID_HEADERS: readonly string[] = ['x-request-id', 'x-correlation-id'];

/** The longest correlation id taken from a request when `correlationIdMaxLength` is not set, in characters. */
export const DEFAULT_CORRELATION_ID_MAX_LENGTH = 128;

/** The length cap of `readCorrelationId`, and who hears of a value over it. */
export interface CorrelationIdLimit {
  /** The most characters (UTF-16 code units) an id may have; a longer value is no id. */
  readonly maxLength: number;
  /** Told of each value over `maxLength`, with the header it came from and its length. Must not throw. */
  readonly tooLong: (header: string, length: number) => void;
}

const UNLIMITED: CorrelationIdLimit = { maxLength: Number.POSITIVE_INFINITY, tooLong: () => undefined };

type Headers = Record<string, unknown>;
type Lookup = (name: string) => unknown;
/** A request's headers, and for HTTP the request itself, whose raw headers tell a repeated header apart. */
interface Source {
  headers: unknown;
  request?: { rawHeaders?: unknown; raw?: { rawHeaders?: unknown } };
}

/**
 * The correlation id of a handler call: the value of the first of `names` (lower case) present,
 * or `undefined`. Read from the HTTP request's headers (`http`; `graphql`, from the request in the
 * GraphQL context), or from what the microservice transport gives the handler's context (`rpc`):
 * TCP and Redis packet metadata (`ClientProxy#setOnDispatchHook`), NATS headers, RabbitMQ message
 * headers, Kafka message headers, MQTT 5 user properties and gRPC metadata. WebSocket messages
 * carry none. Only strings (and Kafka's buffers) count; an empty value is not an id.
 *
 * A header sent more than once gives its first value (Node joins repeated HTTP headers into
 * `"first, second"`; metadata lists give their first item). A value longer than
 * `limit.maxLength` is no id either: it is dropped, never cut (a cut id would join the wrong
 * request), `limit.tooLong` hears of it, and the next name is looked for.
 */
export function readCorrelationId(
  context: ExecutionContext,
  names: readonly string[],
  limit: CorrelationIdLimit = UNLIMITED,
): string | undefined {
  if (names.length === 0) return undefined;
  const args = context.getArgs();
  switch (context.getType<string>()) {
    case 'http':
      return fromHttpRequest(args[0], names, limit);
    case 'graphql':
      return fromHttpRequest(graphqlRequest(args[2]), names, limit);
    case 'rpc':
      return fromRpcContext(args[1], names, limit);
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

/** An HTTP request (Express's, or Fastify's, whose `raw` is Node's): its headers, in lower case. */
function fromHttpRequest(request: unknown, names: readonly string[], limit: CorrelationIdLimit): string | undefined {
  if (request === null || typeof request !== 'object') return undefined;
  const source: Source = { headers: (request as { headers?: unknown }).headers, request: request as Source['request'] };
  return fromRecord(source, names, limit, false);
}

function fromRpcContext(rpc: unknown, names: readonly string[], limit: CorrelationIdLimit): string | undefined {
  if (rpc === null || typeof rpc !== 'object') return undefined;
  const ctx = rpc as Record<string, unknown>;
  // TCP and Redis: the packet's metadata.
  if (typeof ctx.getMetadata === 'function') return fromRecord({ headers: call(ctx, 'getMetadata') }, names, limit);
  // NATS: a MsgHdrs with get(), when the client sent headers (NatsRecordBuilder#setHeaders).
  if (typeof ctx.getHeaders === 'function') return fromHeaderMap(call(ctx, 'getHeaders'), names, limit);
  // RabbitMQ (message.properties.headers) and Kafka (message.headers).
  if (typeof ctx.getMessage === 'function') {
    const message = call(ctx, 'getMessage') as { properties?: { headers?: Headers }; headers?: Headers } | undefined;
    return fromRecord({ headers: message?.properties?.headers ?? message?.headers }, names, limit);
  }
  // MQTT 5: user properties of the packet.
  if (typeof ctx.getPacket === 'function') {
    const packet = call(ctx, 'getPacket') as { properties?: { userProperties?: Headers } } | undefined;
    return fromRecord({ headers: packet?.properties?.userProperties }, names, limit);
  }
  // gRPC: the call's Metadata, whose get() returns every value of a key.
  if (typeof ctx.get === 'function' && typeof ctx.getMap === 'function') return fromHeaderMap(ctx, names, limit);
  return undefined;
}

function call(target: Record<string, unknown>, method: string): unknown {
  return (target[method] as () => unknown).call(target);
}

/**
 * A plain record of headers: the lower-case key, and with `anyCase` (message metadata, whose keys
 * are as the sender wrote them) any casing of it. Node gives HTTP headers in lower case.
 */
function fromRecord(
  source: Source,
  names: readonly string[],
  limit: CorrelationIdLimit,
  anyCase = true,
): string | undefined {
  const { headers } = source;
  if (headers === null || typeof headers !== 'object') return undefined;
  const record = headers as Headers;
  let lowerCased: Map<string, unknown> | undefined;
  for (const name of names) {
    let value = record[name];
    if (value === undefined && anyCase) {
      lowerCased ??= new Map(Object.keys(record).map((key) => [key.toLowerCase(), record[key]]));
      value = lowerCased.get(name);
    }
    let id = idOf(value);
    if (id !== undefined && source.request !== undefined && id.includes(', ')) id = firstOfRepeated(source, name, id);
    if (accepted(id, name, limit)) return id;
  }
  return undefined;
}

/**
 * The first value of an HTTP header Node received more than once and joined with `", "`, from the
 * request's raw headers (Node's `rawHeaders`, on Fastify's `raw`); `joined` when it came once
 * (an id may hold `", "` itself) or the raw headers do not tell.
 */
function firstOfRepeated(source: Source, name: string, joined: string): string {
  const raw = source.request?.rawHeaders ?? source.request?.raw?.rawHeaders;
  if (!Array.isArray(raw)) return joined;
  let first: string | undefined;
  let count = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key: unknown = raw[i];
    if (typeof key === 'string' && key.toLowerCase() === name) {
      count++;
      first ??= String(raw[i + 1]);
    }
  }
  return count > 1 && first !== undefined && joined.startsWith(`${first}, `) ? first : joined;
}

/** Headers behind a `get(name)` (NATS MsgHdrs, gRPC Metadata). */
function fromHeaderMap(headers: unknown, names: readonly string[], limit: CorrelationIdLimit): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get !== 'function') return fromRecord({ headers }, names, limit);
  const lookup: Lookup = (name) => (get as Lookup).call(headers, name);
  for (const name of names) {
    const id = idOf(lookup(name));
    if (accepted(id, name, limit)) return id;
  }
  return undefined;
}

/** True for an id within the limit; a longer one is reported and refused. */
function accepted(id: string | undefined, name: string, limit: CorrelationIdLimit): id is string {
  if (id === undefined) return false;
  if (id.length <= limit.maxLength) return true;
  limit.tooLong(name, id.length);
  return false;
}

function idOf(value: unknown): string | undefined {
  if (Array.isArray(value)) return idOf(value[0]);
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (Buffer.isBuffer(value)) return idOf(value.toString('utf8'));
  return undefined;
}
