import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { AxiosError, AxiosInstance, AxiosRequestConfig, isAxiosError } from 'axios';
import { TokenSourceError } from '../auth/token-source-error';
import { SnowplowError } from '../errors';
import { TokenSource } from '../auth/token-source.interface';
import { redactText, redactUrl, urlCredentialForms } from '../utils/redact-url';
import { parseRetryAfter } from './backoff';

export const CONTENT_TYPE = 'application/json; charset=utf-8';

/** A local failure of one request, stripped of request config, headers and credentials. */
export class CollectorRequestError extends SnowplowError {
  /**
   * @param code - what failed: `ABORTED` (stopped), `ETOKEN` (the token source failed), or the
   * transport's code (`ECONNREFUSED`, `ECONNRESET`, `ECONNABORTED` for a timeout, ...);
   * `REQUEST_FAILED` when there is none.
   */
  constructor(message: string, code = 'REQUEST_FAILED') {
    super(message, code);
  }
}

export interface PostOutcome {
  /** HTTP status, or -1 for a local error. */
  statusCode: number;
  error?: CollectorRequestError;
  /** From Retry-After on 429/503, ms from now. */
  retryAfterMs?: number;
  /** The Location of a 3xx answer (redirects are not followed). */
  location?: string;
  durationSeconds: number;
}

export interface CollectorClientOptions {
  url: URL;
  http: AxiosInstance;
  /** Sockets kept alive per protocol: the batches that may be in flight at once. */
  maxSockets: number;
  timeoutMs: number;
  tokenSource?: TokenSource;
  audience: string;
}

/** Rejects when `signal` aborts, so `stop()` never waits on a token source that hangs. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new CollectorRequestError('request aborted', 'ABORTED'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CollectorRequestError('request aborted', 'ABORTED'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

const identity = (data: unknown): unknown => data;
const acceptEveryStatus = (): boolean => true;

/** Reads a response body to its end without keeping it, so the keep-alive socket can be reused. */
function discard(body: Readable | undefined): void {
  if (!body || typeof body.resume !== 'function') return;
  body.on('error', () => undefined);
  body.resume();
}

/** POSTs request bodies to the collector's tp2 endpoint and turns every outcome into a status code. */
export class CollectorClient {
  /** Private fields: the URL may hold credentials, which `util.inspect` must never show. */
  readonly #href: string;
  /** The URL's credentials in every form a message could repeat them (see `urlCredentialForms`). */
  readonly #secrets: readonly string[];
  readonly #options: Omit<CollectorClientOptions, 'url' | 'maxSockets'>;
  /** Keep-alive agents of the client's own, passed on every request whatever the axios instance. */
  readonly #agents: { httpAgent: HttpAgent; httpsAgent: HttpsAgent };
  /** Every setting of a request but its body, headers and abort signal, built once. */
  readonly #request: AxiosRequestConfig;

  constructor(options: CollectorClientOptions) {
    const { url, maxSockets, ...rest } = options;
    this.#href = url.href;
    this.#secrets = urlCredentialForms(url);
    this.#options = rest;
    this.#agents = {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    };
    this.#request = {
      method: 'POST',
      url: this.#href,
      timeout: rest.timeoutMs,
      maxRedirects: 0,
      // The status is the answer: the body is never buffered, parsed or decompressed. A 2xx
      // with a huge body, or one cut off mid-way, is still a delivered batch.
      responseType: 'stream',
      decompress: false,
      maxContentLength: -1,
      // The body is a Buffer already: no transform, no string conversion.
      transformRequest: [identity],
      transformResponse: [identity],
      validateStatus: acceptEveryStatus,
      ...this.#agents,
    };
  }

  /** Closes the kept-alive sockets. */
  close(): void {
    this.#agents.httpAgent.destroy();
    this.#agents.httpsAgent.destroy();
  }

  async post(body: Buffer | string, signal: AbortSignal): Promise<PostOutcome> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    const headers: Record<string, string> = { 'Content-Type': CONTENT_TYPE };
    if (this.#options.tokenSource) {
      try {
        await abortable(this.#options.tokenSource.enhanceHeader(headers, this.#options.audience), signal);
      } catch (err) {
        if (err instanceof CollectorRequestError) return { statusCode: -1, error: err, durationSeconds: elapsed() };
        // Our own token sources write messages that are safe to show; a custom one might not.
        const reason = err instanceof TokenSourceError ? err.message : err instanceof Error ? err.name : 'error';
        return {
          statusCode: -1,
          error: new CollectorRequestError(`token source failed (${this.redact(reason)})`, 'ETOKEN'),
          durationSeconds: elapsed(),
        };
      }
    }
    try {
      const response = await this.#options.http.request(this.requestConfig(body, headers, signal));
      discard(response.data as Readable | undefined);
      const status = response.status;
      const answer = response.headers as Record<string, unknown> | undefined;
      const retryAfterMs =
        status === 429 || status === 503 ? parseRetryAfter(answer?.['retry-after'], Date.now()) : undefined;
      const outcome: PostOutcome = { statusCode: status, retryAfterMs, durationSeconds: elapsed() };
      if (status >= 300 && status < 400 && typeof answer?.location === 'string')
        outcome.location = this.redact(redactUrl(answer.location));
      return outcome;
    } catch (err) {
      return { statusCode: -1, error: this.localError(err), durationSeconds: elapsed() };
    }
  }

  /**
   * The request's config: the settings built once, with this request's body, headers and signal.
   * Written out key by key, not as `{ ...settings, data, headers, signal }`: V8 gives an object made
   * by a spread and keys added after it a hidden class of its own, built on the spot, per request.
   */
  private requestConfig(
    data: Buffer | string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): AxiosRequestConfig {
    const r = this.#request;
    return {
      method: r.method,
      url: r.url,
      timeout: r.timeout,
      maxRedirects: r.maxRedirects,
      responseType: r.responseType,
      decompress: r.decompress,
      maxContentLength: r.maxContentLength,
      transformRequest: r.transformRequest,
      transformResponse: r.transformResponse,
      validateStatus: r.validateStatus,
      httpAgent: r.httpAgent,
      httpsAgent: r.httpsAgent,
      data,
      headers,
      signal,
    };
  }

  /** A message that names what failed, never the URL's credentials or the request headers. */
  private localError(err: unknown): CollectorRequestError {
    if (isAxiosError(err)) {
      const axiosError = err as AxiosError;
      const code = axiosError.code === 'ERR_CANCELED' ? 'ABORTED' : axiosError.code;
      const message = axiosError.code === 'ERR_CANCELED' ? 'request aborted' : axiosError.message;
      return new CollectorRequestError(this.redact(message || 'request failed'), code);
    }
    const message = err instanceof Error ? err.message : String(err);
    return new CollectorRequestError(this.redact(message));
  }

  /** Every URL in `message` redacted, and the collector URL's credentials in any form masked. */
  private redact(message: string): string {
    return redactText(message, this.#secrets);
  }
}
