import { Controller } from '@nestjs/common';
import { ClientProxy, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { INestMicroservice } from '@nestjs/common';
import { Registry } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { TrackEvent } from '../../lib/decorators';
import { EmitterService } from '../../lib/module/emitter.service';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { eventsNamed, snowplowModule } from './support/snowplow-app';
import { startTcpApp } from './support/tcp-app';

@Controller()
class MathController {
  @MessagePattern({ cmd: 'sum' })
  @TrackEvent<undefined, number>('rpc_sum', {
    props: ({ args, request, result, executionContext }) => ({
      input: args[0],
      type: executionContext.getType(),
      hasRequest: request !== undefined,
      result,
    }),
  })
  sum(@Payload() numbers: number[]) {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern({ cmd: 'divide' })
  @TrackEvent('rpc_divide_failed', { on: 'error', props: ({ error }) => ({ reason: (error as RpcException).message }) })
  divide(@Payload() [a, b]: [number, number]) {
    if (b === 0) throw new RpcException('division by zero');
    return a / b;
  }
}

describe('@TrackEvent on a microservice (TCP) handler', () => {
  let collector: LocalCollector;
  let app: INestMicroservice;
  let client: ClientProxy;
  let emitter: EmitterService;

  beforeAll(async () => {
    collector = await startLocalCollector();
    ({ app, client } = await startTcpApp({
      imports: [snowplowModule(collector, new Registry())],
      controllers: [MathController],
    }));
    emitter = app.get(EmitterService);
  });

  afterAll(async () => {
    await client?.close();
    await app?.close();
    await collector?.close();
  });

  it('tracks a @MessagePattern handler once; ctx.request is undefined', async () => {
    await expect(lastValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3]))).resolves.toBe(6);

    const events = await eventsNamed(emitter, collector, 'rpc_sum');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ input: [1, 2, 3], type: 'rpc', hasRequest: false, result: 6 });
  });

  it("tracks an RpcException under on: 'error' and the client still gets the error", async () => {
    await expect(lastValueFrom(client.send({ cmd: 'divide' }, [1, 0]))).rejects.toMatchObject({
      message: 'division by zero',
    });
    await expect(lastValueFrom(client.send({ cmd: 'divide' }, [6, 3]))).resolves.toBe(2);

    const events = await eventsNamed(emitter, collector, 'rpc_divide_failed');
    expect(events).toHaveLength(1);
    expect(events[0].props).toEqual({ reason: 'division by zero' });
  });
});
