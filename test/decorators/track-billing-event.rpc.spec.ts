import { Controller, INestMicroservice, Injectable } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import {
  ClientProxy,
  EventPattern,
  KafkaContext,
  MessagePattern,
  MqttContext,
  NatsContext,
  Payload,
  RedisContext,
  RmqContext,
  RpcException,
  TcpContext,
} from '@nestjs/microservices';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { SnowplowRequestContext, TrackBillingEvent, TrackEvent } from '../../lib';
import { DEFAULT_CORRELATION_ID_HEADERS, readCorrelationId } from '../../lib/module/correlation-id';
import { EmitterService } from '../../lib/module/emitter.service';
import { TrackerService } from '../../lib/module/tracker.service';
import { BillingEventRequiredInput } from '../../lib/tracker';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { waitFor } from '../support/wait-for';
import { billingNamed, eventsNamed, snowplowModule } from './support/snowplow-app';
import { startTcpApp } from './support/tcp-app';

interface Job {
  n: number;
  minutes: number;
}

const minutes = (eventType: string, quantity: number): BillingEventRequiredInput => ({
  category: 'ci',
  eventType,
  realm: 'SM',
  unitOfMeasure: 'minute',
  quantity,
});

const yieldToOthers = () => new Promise<void>((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));

@Injectable()
class RunnerService {
  readonly handledEvents: Array<string | undefined> = [];

  constructor(private readonly tracker: TrackerService) {}

  async bill(job: Job): Promise<string | undefined> {
    await yieldToOthers();
    this.tracker.trackBillingEventWithOptionalInput(minutes('service_minutes', job.minutes), {
      metadata: { n: job.n },
    });
    return this.tracker.correlationId();
  }
}

@Controller()
class RunnerController {
  constructor(private readonly runner: RunnerService) {}

  @MessagePattern({ cmd: 'finish' })
  @TrackEvent<undefined, { seen?: string }>('rpc_job_finished', { props: ({ result }) => ({ seen: result.seen }) })
  @TrackBillingEvent<undefined, Job & { seen?: string }>(({ result }) => minutes('ci_minutes', result.minutes), {
    optional: ({ args }) => ({ metadata: { n: (args[0] as Job).n } }),
  })
  async finish(@Payload() job: Job) {
    const seen = await this.runner.bill(job);
    await yieldToOthers();
    return { ...job, seen };
  }

  @MessagePattern({ cmd: 'reject' })
  @TrackBillingEvent(() => minutes('rejected_minutes', 1), { on: 'error' })
  reject() {
    throw new RpcException('runner is gone');
  }

  @EventPattern('job_event')
  async onEvent(@Payload() job: Job) {
    this.runner.handledEvents.push(await this.runner.bill(job));
  }
}

describe('@TrackBillingEvent and correlation on a microservice (TCP)', () => {
  let collector: LocalCollector;
  let app: INestMicroservice;
  let client: ClientProxy;
  let emitter: EmitterService;
  const enriched: SnowplowRequestContext[] = [];

  beforeAll(async () => {
    collector = await startLocalCollector();
    const enrich = (context: SnowplowRequestContext) => {
      enriched.push(context);
      return { request_id: context.correlationId ?? null, transport: context.type };
    };
    const metadata = {
      imports: [snowplowModule(collector, new Registry(), { enrich })],
      controllers: [RunnerController],
      providers: [RunnerService],
    };
    // TCP packets carry metadata in Nest 12: the client sets it per packet, the server's TcpContext
    // gives it to the handler. Here the id travels with the message it belongs to.
    ({ app, client } = await startTcpApp(metadata, (tcpClient) =>
      tcpClient.setOnDispatchHook((packet) => {
        const id = (packet.data as { requestId?: string }).requestId;
        if (id !== undefined) packet.metadata = { 'X-Request-Id': id };
      }),
    ));
    emitter = app.get(EmitterService);
  });

  afterAll(async () => {
    await client?.close();
    await app?.close();
    await collector?.close();
  });

  it('bills the result under the id in the packet metadata, from the decorator and down the call chain', async () => {
    await expect(
      lastValueFrom(client.send({ cmd: 'finish' }, { n: 1, minutes: 12.5, requestId: 'rpc-req-1' })),
    ).resolves.toMatchObject({ n: 1, seen: 'rpc-req-1' });

    const usage = await billingNamed(emitter, collector, 'ci_minutes');
    expect(usage).toEqual([
      expect.objectContaining({ quantity: 12.5, correlation_id: 'rpc-req-1', metadata: { n: 1 } }),
    ]);
    const service = await billingNamed(emitter, collector, 'service_minutes');
    expect(service.map((u) => u.correlation_id)).toEqual(['rpc-req-1']);
    const custom = await eventsNamed(emitter, collector, 'rpc_job_finished');
    expect(custom.map((e) => e.props)).toEqual([{ request_id: 'rpc-req-1', transport: 'rpc', seen: 'rpc-req-1' }]);
    expect(enriched.at(-1)?.request).toBeUndefined();
  });

  it('a message without metadata has no correlation id', async () => {
    await expect(lastValueFrom(client.send({ cmd: 'finish' }, { n: 2, minutes: 1 }))).resolves.toEqual({
      n: 2,
      minutes: 1,
    });

    const [usage] = (await billingNamed(emitter, collector, 'ci_minutes')).filter((u) => u.metadata.n === 2);
    expect(usage).not.toHaveProperty('correlation_id');
  });

  it('event handlers (emit) get the context too', async () => {
    await lastValueFrom(client.emit('job_event', { n: 3, minutes: 2, requestId: 'rpc-event-3' }));
    await waitFor(() => app.get(RunnerService).handledEvents.length === 1, { what: 'the event handler' });

    expect(app.get(RunnerService).handledEvents).toEqual(['rpc-event-3']);
    const usage = (await billingNamed(emitter, collector, 'service_minutes')).filter((u) => u.metadata.n === 3);
    expect(usage.map((u) => u.correlation_id)).toEqual(['rpc-event-3']);
  });

  it("on: 'error' bills the failed call and the client still gets the RpcException", async () => {
    await expect(lastValueFrom(client.send({ cmd: 'reject' }, { requestId: 'rpc-reject' }))).rejects.toMatchObject({
      message: 'runner is gone',
    });

    const usage = await billingNamed(emitter, collector, 'rejected_minutes');
    expect(usage.map((u) => u.correlation_id)).toEqual(['rpc-reject']);
  });

  it('1,000 concurrent messages with distinct ids each bill under their own id', async () => {
    const count = 1000;
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        lastValueFrom(client.send({ cmd: 'finish' }, { n: 1000 + i, minutes: 1, requestId: `rpc-${1000 + i}` })),
      ),
    );
    results.forEach((result: Job & { seen: string }) => expect(result.seen).toBe(`rpc-${result.n}`));

    for (const eventType of ['ci_minutes', 'service_minutes']) {
      const usage = (await billingNamed(emitter, collector, eventType)).filter((u) => u.metadata.n >= 1000);
      expect(usage).toHaveLength(count);
      for (const u of usage) expect(u.correlation_id).toBe(`rpc-${u.metadata.n}`);
    }
  });
});

describe('correlation ids in what each microservice transport gives the handler', () => {
  /** The execution context Nest builds for a microservice handler: [data, transport context]. */
  const rpcCall = (transportContext: object) => {
    const context = new ExecutionContextHost([{ some: 'data' }, transportContext]);
    context.setType('rpc');
    return readCorrelationId(context, DEFAULT_CORRELATION_ID_HEADERS);
  };

  it.each([
    ['TCP packet metadata', new TcpContext([undefined as never, 'cmd', { 'x-request-id': 'tcp-1' }])],
    ['TCP metadata in other casing', new TcpContext([undefined as never, 'cmd', { 'X-Correlation-ID': 'tcp-2' }])],
    ['Redis packet metadata', new RedisContext(['channel', { 'x-correlation-id': 'redis-1' }])],
    [
      'NATS headers (NatsRecordBuilder#setHeaders)',
      new NatsContext(['subject', new Map([['x-request-id', 'nats-1']])]),
    ],
    ['RabbitMQ message headers', new RmqContext([{ properties: { headers: { 'x-request-id': 'rmq-1' } } }, {}, 'p'])],
    [
      'Kafka message headers (buffers)',
      new KafkaContext([
        { headers: { 'x-request-id': Buffer.from('kafka-1') } } as never,
        0,
        'topic',
        undefined as never,
        undefined as never,
        undefined as never,
      ]),
    ],
    [
      'MQTT 5 user properties',
      new MqttContext(['topic', { properties: { userProperties: { 'x-request-id': 'mqtt-1' } } }]),
    ],
  ])('%s', (what, transportContext) => {
    const expected = {
      'TCP packet metadata': 'tcp-1',
      'TCP metadata in other casing': 'tcp-2',
      'Redis packet metadata': 'redis-1',
      'NATS headers (NatsRecordBuilder#setHeaders)': 'nats-1',
      'RabbitMQ message headers': 'rmq-1',
      'Kafka message headers (buffers)': 'kafka-1',
      'MQTT 5 user properties': 'mqtt-1',
    }[what];
    expect(rpcCall(transportContext)).toBe(expected);
  });

  it('is undefined when the transport carries none, or only empty values', () => {
    expect(rpcCall(new TcpContext([undefined as never, 'cmd']))).toBeUndefined();
    expect(rpcCall(new TcpContext([undefined as never, 'cmd', { 'x-request-id': '' }]))).toBeUndefined();
    expect(rpcCall(new NatsContext(['subject', undefined]))).toBeUndefined();
    expect(rpcCall(new RmqContext([{ properties: {} }, {}, 'p']))).toBeUndefined();
  });

  it('a key sent more than once gives its first value; one over the length cap is dropped, reported, and the next name looked at', () => {
    const tooLong: Array<[string, number]> = [];
    const limit = { maxLength: 8, tooLong: (header: string, length: number) => void tooLong.push([header, length]) };
    const read = (transportContext: object) => {
      const context = new ExecutionContextHost([{ some: 'data' }, transportContext]);
      context.setType('rpc');
      return readCorrelationId(context, DEFAULT_CORRELATION_ID_HEADERS, limit);
    };
    const kafka = (headers: Record<string, unknown>) =>
      new KafkaContext([{ headers } as never, 0, 'topic', undefined as never, undefined as never, undefined as never]);
    expect(read(kafka({ 'x-request-id': [Buffer.from('k-first'), Buffer.from('k-second')] }))).toBe('k-first');
    expect(read(new MqttContext(['t', { properties: { userProperties: { 'x-request-id': ['m-1', 'm-2'] } } }]))).toBe(
      'm-1',
    );
    expect(tooLong).toEqual([]);
    expect(read(new TcpContext([undefined as never, 'cmd', { 'x-request-id': 'x'.repeat(9) }]))).toBeUndefined();
    expect(
      read(new TcpContext([undefined as never, 'cmd', { 'x-request-id': 'x'.repeat(9), 'x-correlation-id': 'c-1' }])),
    ).toBe('c-1');
    expect(read(kafka({ 'x-request-id': Buffer.from('y'.repeat(20)) }))).toBeUndefined();
    expect(read(new TcpContext([undefined as never, 'cmd', { 'x-request-id': 'x'.repeat(8) }]))).toBe('x'.repeat(8));
    expect(tooLong).toEqual([
      ['x-request-id', 9],
      ['x-request-id', 9],
      ['x-request-id', 20],
    ]);
  });
});
