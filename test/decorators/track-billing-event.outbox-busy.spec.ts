// A @TrackBillingEvent bill whose shared SQLite outbox is locked by another process when the
// handler answers: there is no caller to tell, so the bill is never lost. The client gets its 2xx,
// the bill is held in memory with its whole payload in an error log line, counted as a storage
// commit error and a track error, and reaches the collector once the lock is released.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Body, Controller, INestApplication, LoggerService, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import { TrackBillingEvent } from '../../lib';
import { EmitterService } from '../../lib/module/emitter.service';
import { SCHEMAS } from '../../lib/tracker/schemas';
import { LocalCollector, startLocalCollector } from '../../lib/testing/local-collector';
import { decodeAccepted } from '../support/decode';
import { waitFor } from '../support/wait-for';
import { snowplowModule, trackErrors } from './support/snowplow-app';

const ROOT = join(__dirname, '../..');

@Controller('completions')
class CompletionsController {
  @Post()
  @TrackBillingEvent<unknown, { tokens: number }>(({ result }) => ({
    category: 'duo',
    eventType: 'code_suggestions',
    realm: 'SaaS',
    unitOfMeasure: 'token',
    quantity: result.tokens,
  }))
  complete(@Body() body: { tokens: number }) {
    return { tokens: body.tokens };
  }
}

/** Collects what the app logs at error level. */
class CapturingLogger implements LoggerService {
  readonly errors: string[] = [];
  log(): void {}
  warn(): void {}
  error(message: unknown): void {
    this.errors.push(String(message));
  }
}

async function metricTotal(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('@TrackBillingEvent with a shared outbox another process holds locked', () => {
  let dir: string;
  let collector: LocalCollector;
  let registry: Registry;
  let app: INestApplication;
  let logger: CapturingLogger;
  let holder: ChildProcess | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'billing-busy-'));
    collector = await startLocalCollector();
    registry = new Registry();
    logger = new CapturingLogger();
    @Module({
      imports: [
        snowplowModule(collector, registry, {
          storage: { type: 'sqlite', path: join(dir, 'outbox.db'), shared: true },
          lingerMs: 0,
        }),
      ],
      controllers: [CompletionsController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger });
    await app.init();
  });

  afterEach(async () => {
    holder?.kill('SIGKILL');
    await app?.close();
    await collector?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A second process holding the file's write lock (BEGIN IMMEDIATE) until it is killed. */
  async function holdLock(): Promise<ChildProcess> {
    const script = `
      const db = new (require('better-sqlite3'))(process.env.DB);
      db.exec('BEGIN IMMEDIATE');
      process.stdout.write('locked\\n');
      setInterval(() => undefined, 1 << 30);
    `;
    const child = spawn(process.execPath, ['-e', script], {
      cwd: ROOT,
      env: { ...process.env, DB: join(dir, 'outbox.db') },
    });
    let out = '';
    child.stdout!.on('data', (chunk) => (out += chunk));
    await waitFor(() => out.includes('locked'), { timeoutMs: 30_000, what: 'the lock holder' });
    return child;
  }

  it('answers 2xx, logs the payload at error level, counts it, and delivers the bill once the lock is released', async () => {
    holder = await holdLock();
    const response = await request(app.getHttpServer()).post('/completions').send({ tokens: 98765 });
    expect(response.status).toBe(201);

    // The whole payload is in an error line: a kill -9 now still leaves a record of the bill.
    const payloadLine = logger.errors.find((line) => line.includes('its payload:'));
    expect(payloadLine).toBeDefined();
    expect(payloadLine).toContain('"se_va":"98765"');
    expect(await metricTotal(registry, 'snowplow_storage_errors_total', { op: 'commit' })).toBeGreaterThanOrEqual(1);
    expect(await trackErrors(registry, 'interceptor', 'billing')).toBe(1);
    expect(app.get(EmitterService).stats().dropped.shutdown).toBe(0);

    holder.kill('SIGKILL');
    const bills = () =>
      decodeAccepted(collector).filter(
        (event) => event.eventType === 'se' && event.contexts.some((c) => c.schema === SCHEMAS.billableUsage),
      );
    await waitFor(() => bills().length >= 1, { timeoutMs: 30_000, what: 'the held bill at the collector' });
    expect((await app.get(EmitterService).drain(20_000)).drained).toBe(true);
    const delivered = bills();
    expect(delivered).toHaveLength(1);
    expect(delivered[0].contexts.find((c) => c.schema === SCHEMAS.billableUsage)!.data).toMatchObject({
      quantity: 98765,
      unit_of_measure: 'token',
    });
  });
});
