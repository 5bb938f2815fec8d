#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { formatEventLine } from './event-line';
import { DEFAULT_MAX_EVENTS, LocalCollector, startLocalCollector } from './local-collector';
import { faultPlanFromFlags } from './fault-flags';
import { FaultPlan, InvalidFaultPlanError } from './fault-plan';
import { CollectorRequest, requestPayloads } from './request-log';

/** Where the CLI writes. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage: nestjs-snowplow-collector [--port 9090] [--host 127.0.0.1] [--schemas DIR]... [--max-events N]
  [--fault STEP]... [--faults FILE]

A local Snowplow collector that validates every event against Iglu schemas and prints it.
  -p, --port N        port to listen on (0 picks a free one; default 9090)
      --host HOST     interface to listen on (default 127.0.0.1)
  -s, --schemas DIR   an extra Iglu registry (DIR/schemas/VENDOR/NAME/jsonschema/VERSION); repeatable
      --max-events N  events kept in memory; past it the oldest are dropped and counted (default 100000)
  -f, --fault STEP    fail on purpose; repeatable, tried in order. STEP is JSON ({"status":503,"count":2})
                      or key=value pairs: status=N, retry-after=S, location=URL, delay=MS, hang, reset,
                      count=N, probability=P, seed=N, match=FIELD:VALUE
                      e.g. --fault status=503,retry-after=5,count=2  --fault status=400,match=se_ac:poison
      --faults FILE   a JSON fault plan ({"steps": [...]}), before any --fault steps
  -h, --help          show this text
Endpoints: POST /com.snowplowanalytics.snowplow/tp2, GET /i, GET /micro/all|good|bad|requests,
  POST /micro/reset, GET|POST|DELETE /micro/faults, GET /micro/ui (the event viewer),
  GET /micro/stream (the events as Server-Sent Events)`;

/** A command line the CLI cannot run. */
export class CliUsageError extends Error {}

export interface CliOptions {
  port: number;
  host: string;
  schemaDirs: string[];
  maxEvents: number;
  /** The fault plan of `--faults` and `--fault`, when given. */
  faults?: FaultPlan;
  help: boolean;
}

export function parseCliArgs(argv: readonly string[]): CliOptions {
  const values = readFlags(argv);
  const port = Number(values.port);
  if (!/^[0-9]+$/.test(values.port) || port > 65535) {
    throw new CliUsageError(`--port must be 0-65535, got "${values.port}"`);
  }
  const maxEvents = Number(values['max-events']);
  if (!/^[0-9]+$/.test(values['max-events']) || !Number.isSafeInteger(maxEvents) || maxEvents < 1) {
    throw new CliUsageError(`--max-events must be a positive integer, got "${values['max-events']}"`);
  }
  let faults: FaultPlan | undefined;
  try {
    faults = faultPlanFromFlags(values.faults, values.fault);
  } catch (error) {
    if (error instanceof InvalidFaultPlanError) throw new CliUsageError(error.message);
    throw error;
  }
  return { port, host: values.host, schemaDirs: values.schemas, maxEvents, faults, help: values.help };
}

function readFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string', short: 'p', default: '9090' },
        host: { type: 'string', default: '127.0.0.1' },
        schemas: { type: 'string', short: 's', multiple: true, default: [] },
        'max-events': { type: 'string', default: String(DEFAULT_MAX_EVENTS) },
        fault: { type: 'string', short: 'f', multiple: true, default: [] },
        faults: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
}

/**
 * Runs the collector with command-line arguments, printing each event on one line. Resolves with
 * the running collector (undefined after --help); the caller closes it.
 */
export async function runCollectorCli(argv: readonly string[], output: CliOutput): Promise<LocalCollector | undefined> {
  const options = parseCliArgs(argv);
  if (options.help) {
    output.out(USAGE);
    return undefined;
  }
  const collector = await startLocalCollector({
    port: options.port,
    host: options.host,
    schemaDirs: options.schemaDirs,
    maxEvents: options.maxEvents,
    faults: options.faults,
    onEvent: (record) => output.out(formatEventLine(record)),
    onRequest: (request) => {
      if (request.fault) output.out(formatFaultLine(request));
    },
  });
  output.out(`Snowplow local collector on ${collector.url}`);
  output.out(`  tracker endpoint ${collector.endpoint}`);
  output.out(`  event viewer ${collector.viewerUrl}`);
  output.out(`  ${collector.registry.uris().length} schemas from ${collector.registry.dirs.join(', ')}`);
  const steps = options.faults?.steps.length ?? 0;
  if (steps > 0) output.out(`  fault plan: ${steps} step(s); GET|POST|DELETE ${collector.url}/micro/faults`);
  return collector;
}

/** `12:00:00.123Z FAULT plan step 0: status 503 POST /com.snowplowanalytics.snowplow/tp2 (2 events)`. */
function formatFaultLine(request: CollectorRequest): string {
  const { fault } = request;
  const source = fault?.source === 'plan' ? `plan step ${fault.step}` : 'behaviour';
  const what =
    fault?.kind === 'status' || fault?.kind === 'delay' ? `${fault.kind} ${request.status ?? '-'}` : fault?.kind;
  const path = new URL(request.url, 'http://collector.invalid').pathname;
  const events = requestPayloads(request).length;
  const time = new Date(request.receivedAt).toISOString().slice(11);
  return `${time} FAULT ${source}: ${what} ${request.method} ${path} (${events} event${events === 1 ? '' : 's'})`;
}

async function main(): Promise<void> {
  const output: CliOutput = { out: (line) => console.log(line), err: (line) => console.error(line) };
  let collector: LocalCollector | undefined;
  try {
    collector = await runCollectorCli(process.argv.slice(2), output);
  } catch (error) {
    const usage = error instanceof CliUsageError;
    const message = error instanceof Error ? error.message : String(error);
    output.err(usage ? `${message}\n\n${USAGE}` : message);
    process.exitCode = usage ? 2 : 1;
    return;
  }
  if (!collector) return;
  const running = collector;
  const stop = (signal: NodeJS.Signals) => {
    output.out(`${signal}: closing`);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    void running.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) void main();
