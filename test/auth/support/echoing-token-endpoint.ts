import { IncomingMessage } from 'node:http';
import { RestartableServer } from '../../support/restartable-server';

/** What the echoing provider is sent by a token request: its Authorization header and form body. */
export interface TokenRequestSeen {
  authorization: string;
  body: string;
}

/**
 * An OpenID provider on 127.0.0.1 that refuses every token request with HTTP 400 `invalid_client`
 * and an `error_description` made by `describe` from what the client sent: a provider that echoes
 * the Basic credentials (or the form body) back, as some do. Discovery works.
 */
export class EchoingTokenEndpoint {
  /** Builds the error_description from the request; set per test. */
  describe: (seen: TokenRequestSeen) => string = (seen) => `bad client credentials: ${seen.authorization}`;
  readonly seen: TokenRequestSeen[] = [];
  private readonly server = new RestartableServer((req, res) => void this.handle(req, res));

  static async start(): Promise<EchoingTokenEndpoint> {
    const endpoint = new EchoingTokenEndpoint();
    await endpoint.server.start();
    return endpoint;
  }

  get issuer(): string {
    return this.server.url;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      res.end(
        JSON.stringify({
          issuer: this.issuer,
          token_endpoint: `${this.issuer}/token`,
          grant_types_supported: ['client_credentials'],
        }),
      );
      return;
    }
    const seen = { authorization: req.headers.authorization ?? '', body: Buffer.concat(chunks).toString('utf8') };
    this.seen.push(seen);
    res.statusCode = 400;
    res.end(JSON.stringify({ error: 'invalid_client', error_description: this.describe(seen) }));
  }
}
