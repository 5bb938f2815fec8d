import { INestApplication, Injectable, Module } from '@nestjs/common';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import {
  Args,
  Field,
  GraphQLModule,
  Int,
  Mutation,
  ObjectType,
  Parent,
  Query,
  ResolveField,
  Resolver,
} from '@nestjs/graphql';
import { Test } from '@nestjs/testing';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphQLError, GraphQLResolveInfo } from 'graphql';
import { Registry } from 'prom-client';
import request from 'supertest';
import { TrackBillingEvent, TrackEvent } from '../../lib';
import { EmitterService } from '../../lib/module/emitter.service';
import { TrackerService } from '../../lib/module/tracker.service';
import { BillingEventRequiredInput } from '../../lib/tracker';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { billingNamed, eventsNamed, snowplowModule } from './support/snowplow-app';

@ObjectType()
class Completion {
  @Field()
  id!: string;

  @Field(() => Int)
  tokens!: number;

  @Field({ nullable: true })
  seen?: string;
}

/** The part of the HTTP request the fixtures read. */
interface Request {
  headers: Record<string, string | undefined>;
}

const tokens = (eventType: string, quantity: number): BillingEventRequiredInput => ({
  category: 'duo',
  eventType,
  realm: 'SaaS',
  unitOfMeasure: 'token',
  quantity,
});

@Injectable()
class CompletionService {
  constructor(private readonly tracker: TrackerService) {}

  async complete(id: string, prompt: string): Promise<Completion> {
    await new Promise((resolve) => setImmediate(resolve));
    this.tracker.trackBillingEvent(tokens('service_tokens', prompt.length));
    return { id, tokens: prompt.length * 10, seen: this.tracker.correlationId() };
  }
}

@Resolver(() => Completion)
class CompletionResolver {
  constructor(private readonly completions: CompletionService) {}

  @Query(() => Completion)
  @TrackEvent<Request, Completion>('gql_completion_viewed', {
    props: ({ args, request, info, result }) => ({
      id: (args as { id: string }).id,
      field: (info as GraphQLResolveInfo).fieldName,
      userAgent: request?.headers['user-agent'],
      tokens: result.tokens,
    }),
  })
  @TrackBillingEvent<Request, Completion>(({ result }) => tokens('query_tokens', result.tokens), {
    optional: ({ args }) => ({ entityId: (args as { id: string }).id }),
  })
  completion(@Args('id') id: string): Completion {
    return { id, tokens: 3 };
  }

  @Mutation(() => Completion)
  @TrackBillingEvent<Request, Completion>(({ result }) => tokens('mutation_tokens', result.tokens))
  complete(@Args('id') id: string, @Args('prompt') prompt: string): Promise<Completion> {
    return this.completions.complete(id, prompt);
  }

  @Mutation(() => Completion)
  @TrackEvent<Request>('gql_complete_failed', {
    on: 'error',
    props: ({ error, args }) => ({ message: (error as Error).message, prompt: (args as { prompt: string }).prompt }),
  })
  @TrackBillingEvent<Request>(() => tokens('failed_tokens', 1), { on: 'error' })
  fail(@Args('prompt') prompt: string): Completion {
    throw new GraphQLError(`cannot complete "${prompt}"`, { extensions: { code: 'MODEL_OVERLOADED', retryIn: 30 } });
  }

  @ResolveField(() => Int)
  @TrackBillingEvent<Request, number>(({ result, info }) => ({
    ...tokens('field_tokens', result),
    eventType: `field_${(info as GraphQLResolveInfo).fieldName}`,
  }))
  cost(@Parent() completion: Completion): number {
    return completion.tokens * 2;
  }
}

describe('@TrackEvent and @TrackBillingEvent on GraphQL resolvers (Apollo, Express)', () => {
  let collector: LocalCollector;
  let app: INestApplication;
  let emitter: EmitterService;

  beforeAll(async () => {
    collector = await startLocalCollector();
    @Module({
      imports: [
        snowplowModule(collector, new Registry(), {
          enrich: ({ correlationId, type }) => ({ request_id: correlationId ?? null, transport: type }),
        }),
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          autoSchemaFile: true,
          // Nest runs no interceptor (nor the decorators') on @ResolveField resolvers without this.
          fieldResolverEnhancers: ['interceptors'],
        }),
      ],
      providers: [CompletionResolver, CompletionService],
    })
    class GraphqlModule {}
    const moduleRef = await Test.createTestingModule({ imports: [GraphqlModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    emitter = app.get(EmitterService);
  });

  afterAll(async () => {
    await app?.close();
    await collector?.close();
  });

  const graphql = (query: string, requestId?: string) => {
    const call = request(app.getHttpServer()).post('/graphql').set('User-Agent', 'gql-test');
    return (requestId ? call.set('X-Request-Id', requestId) : call).send({ query });
  };

  it('a @Query tracks its event and bills its result under the request id; @ResolveField bills too', async () => {
    const { body } = await graphql('{ completion(id: "c-1") { id tokens cost } }', 'gql-req-1').expect(200);
    expect(body).toEqual({ data: { completion: { id: 'c-1', tokens: 3, cost: 6 } } });

    const viewed = await eventsNamed(emitter, collector, 'gql_completion_viewed');
    expect(viewed.map((e) => e.props)).toEqual([
      {
        request_id: 'gql-req-1',
        transport: 'graphql',
        id: 'c-1',
        field: 'completion',
        userAgent: 'gql-test',
        tokens: 3,
      },
    ]);
    const query = await billingNamed(emitter, collector, 'query_tokens');
    expect(query).toEqual([expect.objectContaining({ quantity: 3, entity_id: 'c-1', correlation_id: 'gql-req-1' })]);
    const field = await billingNamed(emitter, collector, 'field_cost');
    expect(field).toEqual([expect.objectContaining({ quantity: 6, correlation_id: 'gql-req-1' })]);
  });

  it('a @Mutation bills its result, and TrackerService down the chain bills under the same id', async () => {
    const { body } = await graphql('mutation { complete(id: "c-2", prompt: "hello") { tokens seen } }', 'gql-req-2');
    expect(body).toEqual({ data: { complete: { tokens: 50, seen: 'gql-req-2' } } });

    const mutation = await billingNamed(emitter, collector, 'mutation_tokens');
    expect(mutation.map((u) => [u.quantity, u.correlation_id])).toEqual([[50, 'gql-req-2']]);
    const service = await billingNamed(emitter, collector, 'service_tokens');
    expect(service.map((u) => [u.quantity, u.correlation_id])).toEqual([[5, 'gql-req-2']]);
  });

  it('a resolver error reaches the client as its GraphQL error, and on: error events are tracked', async () => {
    const { body } = await graphql('mutation { fail(prompt: "haiku") { id } }', 'gql-req-3').expect(200);
    expect(body.data).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]).toMatchObject({
      message: 'cannot complete "haiku"',
      path: ['fail'],
      extensions: { code: 'MODEL_OVERLOADED', retryIn: 30 },
    });

    const failed = await eventsNamed(emitter, collector, 'gql_complete_failed');
    expect(failed.map((e) => e.props)).toEqual([
      { request_id: 'gql-req-3', transport: 'graphql', message: 'cannot complete "haiku"', prompt: 'haiku' },
    ]);
    const billed = await billingNamed(emitter, collector, 'failed_tokens');
    expect(billed.map((u) => u.correlation_id)).toEqual(['gql-req-3']);
  });

  it('without a request id nothing is invented', async () => {
    await graphql('{ completion(id: "c-4") { id } }').expect(200);

    const [usage] = (await billingNamed(emitter, collector, 'query_tokens')).filter((u) => u.entity_id === 'c-4');
    expect(usage).not.toHaveProperty('correlation_id');
  });

  it('concurrent operations with distinct ids each bill under their own id', async () => {
    const count = 200;
    const bodies = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        graphql(`mutation { complete(id: "k-${i}", prompt: "${'x'.repeat(i + 1)}") { seen } }`, `gql-k-${i}`).then(
          (r) => r.body as { data: { complete: { seen: string } } },
        ),
      ),
    );
    bodies.forEach((body, i) => expect(body.data.complete.seen).toBe(`gql-k-${i}`));

    const usage = (await billingNamed(emitter, collector, 'mutation_tokens')).filter((u) =>
      String(u.correlation_id).startsWith('gql-k-'),
    );
    expect(usage).toHaveLength(count);
    // quantity = prompt length * 10 = (i + 1) * 10
    for (const u of usage) expect(u.correlation_id).toBe(`gql-k-${u.quantity / 10 - 1}`);
  });
});

describe('the library and GraphQL', () => {
  it('loads no GraphQL package at run time (they are dev dependencies only)', () => {
    const lib = join(__dirname, '..', '..', 'lib');
    const sources = (readdirSync(lib, { recursive: true }) as string[]).filter((file) => file.endsWith('.ts'));
    const importing = sources.filter((file) =>
      /from '(graphql|@nestjs\/graphql|@nestjs\/apollo|@apollo\/[^']+)'|require\('graphql/.test(
        readFileSync(join(lib, file), 'utf8'),
      ),
    );
    expect(sources.length).toBeGreaterThan(50);
    expect(importing).toEqual([]);
  });
});
