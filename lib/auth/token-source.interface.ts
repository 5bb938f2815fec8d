/**
 * Adds credentials to each collector request (for example `Authorization: Bearer ...`).
 * `enhanceHeader` is awaited before every request; if it throws, the batch fails as a local
 * error (statusCode -1) and its events are kept for retry.
 */
export interface TokenSource {
  /**
   * Adds the credentials to `headers` (e.g. `Authorization`) for a request to `audience`; awaited before each
   * request.
   */
  enhanceHeader(headers: Record<string, string>, audience: string): Promise<void>;
  /**
   * Optional: forget any cached token. Called when the collector answers 401 or 403, before the
   * one retry that such an answer gets.
   */
  invalidate?(): void;
}
