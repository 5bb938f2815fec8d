import { INestApplication, Module } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { Test } from '@nestjs/testing';
import { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { TrackEvent } from '../../lib/decorators';
import { EmitterService } from '../../lib/module/emitter.service';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { eventsNamed, snowplowModule } from './support/snowplow-app';

@WebSocketGateway({ path: '/ws' })
class EchoGateway {
  @SubscribeMessage('ping')
  @TrackEvent('ws_ping', {
    props: ({ args, request, executionContext }) => ({
      data: args[1],
      type: executionContext.getType(),
      hasRequest: request !== undefined,
    }),
  })
  ping(@MessageBody() data: { n: number }) {
    return { event: 'pong', data: { n: data.n + 1 } };
  }

  @SubscribeMessage('explode')
  @TrackEvent('ws_explode', { on: 'error', props: ({ error }) => ({ message: (error as WsException).message }) })
  explode() {
    throw new WsException('kaboom');
  }
}

describe('@TrackEvent on a WebSocket gateway (ws)', () => {
  let collector: LocalCollector;
  let app: INestApplication;
  let emitter: EmitterService;
  let socket: WebSocket;
  const received: Array<{ event: string; data: unknown }> = [];

  beforeAll(async () => {
    collector = await startLocalCollector();
    @Module({ imports: [snowplowModule(collector, new Registry())], providers: [EchoGateway] })
    class WsModule {}
    const moduleRef = await Test.createTestingModule({ imports: [WsModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, '127.0.0.1');
    emitter = app.get(EmitterService);
    const { port } = app.getHttpServer().address() as AddressInfo;
    socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    socket.on('message', (raw) => received.push(JSON.parse(raw.toString())));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
  });

  afterAll(async () => {
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.close();
      await closed;
    }
    await app?.close();
    await collector?.close();
  });

  it('tracks a @SubscribeMessage handler once; ctx.request is undefined', async () => {
    socket.send(JSON.stringify({ event: 'ping', data: { n: 1 } }));
    const reply = await waitFor(() => received.find((m) => m.event === 'pong'), { what: 'the pong reply' });
    expect(reply.data).toEqual({ n: 2 });

    const events = await eventsNamed(emitter, collector, 'ws_ping');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ data: { n: 1 }, type: 'ws', hasRequest: false });
  });

  it("tracks a WsException under on: 'error' and the client still gets the error", async () => {
    socket.send(JSON.stringify({ event: 'explode', data: {} }));
    const reply = await waitFor(() => received.find((m) => m.event === 'exception'), { what: 'the exception reply' });
    expect(reply.data).toMatchObject({ status: 'error', message: 'kaboom' });

    const events = await eventsNamed(emitter, collector, 'ws_explode');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ message: 'kaboom' });
  });
});
