// describeFailure: what an openid-client failure says, in one line safe to log. The shapes below
// are those openid-client and undici throw (an OAuth error answer, a WWW-Authenticate challenge,
// a fetch failure with its cause chain).
import { describeFailure } from '../../lib/auth/oidc-failure';

const SECRET = 'p@ss word/with+chars';

function error(message: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), fields);
}

describe('describeFailure', () => {
  it('an OAuth error answer: HTTP status, error and description', () => {
    const err = error('server responded with an error in the response body', {
      status: 401,
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
    expect(describeFailure(err, SECRET)).toEqual({
      text: 'HTTP 401 invalid_client (client authentication failed)',
      status: 401,
      oauthError: 'invalid_client',
    });
  });

  it('an OAuth error without a status or description', () => {
    expect(describeFailure(error('x', { error: 'invalid_scope' }), SECRET)).toEqual({
      text: 'invalid_scope',
      status: undefined,
      oauthError: 'invalid_scope',
    });
  });

  it('an OAuth error found further down the cause chain, with the status from above it', () => {
    const err = error('outer', { status: 400, cause: error('inner', { error: 'invalid_request' }) });
    expect(describeFailure(err, SECRET)).toMatchObject({
      text: 'HTTP 400 invalid_request',
      oauthError: 'invalid_request',
    });
  });

  it('an OAuth error in a WWW-Authenticate challenge', () => {
    const err = error('server responded with a challenge', {
      status: 401,
      cause: [{ scheme: 'bearer', parameters: { error: 'invalid_token', error_description: 'expired' } }],
    });
    expect(describeFailure(err, SECRET)).toEqual({
      text: 'HTTP 401 invalid_token (expired)',
      status: 401,
      oauthError: 'invalid_token',
    });
  });

  it('a challenge without an OAuth error falls back to the messages', () => {
    const err = error('server responded with a challenge', {
      status: 401,
      cause: [{ scheme: 'basic', parameters: {} }],
    });
    expect(describeFailure(err, SECRET)).toEqual({ text: 'server responded with a challenge (HTTP 401)', status: 401 });
  });

  it('a network failure: the messages and codes along the cause chain, each once', () => {
    const refused = error('connect ECONNREFUSED 127.0.0.1:8080', { code: 'ECONNREFUSED' });
    const err = error('fetch failed', { cause: error('fetch failed', { cause: refused, code: 'ECONNREFUSED' }) });
    expect(describeFailure(err, SECRET)).toEqual({
      text: 'fetch failed: connect ECONNREFUSED 127.0.0.1:8080 (ECONNREFUSED)',
      status: undefined,
    });
  });

  it('an HTTP status without an OAuth error is named after the messages', () => {
    expect(describeFailure(error('unexpected HTTP response status code', { status: 503 }), SECRET)).toEqual({
      text: 'unexpected HTTP response status code (HTTP 503)',
      status: 503,
    });
  });

  it('something that is not an error says so', () => {
    expect(describeFailure('boom', SECRET)).toEqual({ text: 'unknown error', status: undefined });
    expect(describeFailure(null, SECRET)).toEqual({ text: 'unknown error', status: undefined });
    expect(describeFailure({ message: 'no name' }, SECRET)).toEqual({ text: 'unknown error', status: undefined });
  });

  it('takes a message and a code only from a link that has both a string name and a string message', () => {
    expect(describeFailure({ name: 'Weird', message: 42, code: 'EWEIRD' }, SECRET)).toEqual({
      text: 'unknown error',
      status: undefined,
    });
    expect(describeFailure({ name: 'NoMessage', code: 'ENOMSG' }, SECRET)).toEqual({
      text: 'unknown error',
      status: undefined,
    });
    const err = error('outer', { code: 'EOUTER', cause: { message: 'nameless', code: 'ENONAME' } });
    expect(describeFailure(err, SECRET)).toEqual({ text: 'outer (EOUTER)', status: undefined });
  });

  it('lists several codes and the HTTP status separated by commas', () => {
    const err = error('fetch failed', {
      code: 'UND_ERR_SOCKET',
      status: 502,
      cause: error('other side closed', { code: 'ECONNRESET' }),
    });
    expect(describeFailure(err, SECRET)).toEqual({
      text: 'fetch failed: other side closed (UND_ERR_SOCKET, ECONNRESET, HTTP 502)',
      status: 502,
    });
  });

  it('keeps a line of exactly 200 characters whole and clips one of 201', () => {
    expect(describeFailure(error('y'.repeat(200)), SECRET).text).toBe('y'.repeat(200));
    expect(describeFailure(error('y'.repeat(201)), SECRET).text).toBe(`${'y'.repeat(200)}...`);
  });

  it('follows at most six links of a cause chain', () => {
    let err: Error = error('link 7');
    for (let i = 6; i >= 1; i--) err = error(`link ${i}`, { cause: err });
    expect(describeFailure(err, SECRET).text).toBe('link 1: link 2: link 3: link 4: link 5: link 6');
  });

  it('masks the client secret in every form a provider may echo it, and keeps one line of at most 200 characters', () => {
    const echoed = `got ${SECRET} / ${encodeURIComponent(SECRET)} / ${encodeURIComponent(SECRET).replace(/%20/g, '+')}`;
    const { text } = describeFailure(error('x', { error: 'invalid_request', error_description: echoed }), SECRET);
    expect(text).toBe('invalid_request (got *** / *** / ***)');

    const long = describeFailure(error(`line one\r\nline two ${'z'.repeat(300)}`), SECRET).text;
    expect(long).not.toMatch(/[\r\n]/);
    expect(long).toBe(`line one line two ${'z'.repeat(200 - 'line one line two '.length)}...`);
  });

  it('redacts every URL in the text: its user part and query values', () => {
    const err = error('fetch failed', {
      cause: error('redirected to https://key-1a2b@idp.example/t?client_secret=zz-9y#f=1'),
    });
    expect(describeFailure(err, SECRET).text).toBe(
      'fetch failed: redirected to https://***@idp.example/t?client_secret=***#f=***',
    );
  });

  it('masks the Basic credentials of the client id and secret, given the client id', () => {
    const basic = Buffer.from(`client:${encodeURIComponent(SECRET)}`).toString('base64');
    const err = error('x', { error: 'invalid_client', error_description: `Basic ${basic} refused` });
    expect(describeFailure(err, SECRET, 'client').text).toBe('invalid_client (Basic *** refused)');
  });
});
