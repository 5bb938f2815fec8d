/** The URL as text with any password replaced, safe for logs and error messages. */
export function redactUrl(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}
