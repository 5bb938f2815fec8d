// The decorators typed with a schema catalogue (createTrackDecorators<S>()): tsc on files that
// must compile, and on files that must not, each asserting the TS error code at its line and the
// reason in its message. The catalogue is written as nestjs-snowplow-types writes one (readonly
// interfaces); the library is mapped to its sources.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostic, lineOf, typecheck } from '../support/typecheck';

jest.setTimeout(180_000);

const HEADER = `import { Controller, Get, Post } from '@nestjs/common';
import { createTrackDecorators, TrackBillingEvent as LooseBilling, TrackEvent as LooseTrackEvent } from 'nestjs-snowplow';

export interface AcmeCheckoutV1_0_0 {
  readonly orderId: string;
  readonly total: number;
  readonly currency?: 'EUR' | 'USD';
}
export interface AcmeCartV1_0_0 {
  readonly items: number;
  readonly coupon?: string | null;
}
export interface SnowplowSchemas {
  'iglu:com.acme/checkout/jsonschema/1-0-0': AcmeCheckoutV1_0_0;
  'iglu:com.acme/cart/jsonschema/1-0-0': AcmeCartV1_0_0;
}
const CHECKOUT = 'iglu:com.acme/checkout/jsonschema/1-0-0';
const CART = 'iglu:com.acme/cart/jsonschema/1-0-0';
const { TrackEvent, TrackBillingEvent } = createTrackDecorators<SnowplowSchemas>();
const BILL = { category: 'shop', eventType: 'orders', realm: 'SaaS', unitOfMeasure: 'order', quantity: 1 } as const;
interface Request { headers: Record<string, string | undefined> }
interface Order { id: string; total: number; items: number }
void LooseTrackEvent;
void LooseBilling;
void BILL;
void CART;

@Controller('fixture')
export class Fixture {
`;
const FOOTER = `  @Get()
  handler() {}
}
`;

const OK = `${HEADER}
  @Post('a')
  @TrackEvent({ schema: CHECKOUT, data: { orderId: 'o-1', total: 42.5, currency: 'EUR' } })
  a() {}

  @Post('b')
  @TrackEvent<Request, Order>(
    { schema: CHECKOUT, data: ({ result }) => ({ orderId: result.id, total: result.total }) },
    {
      entities: ({ result }) => [{ schema: CART, data: { items: result.items, coupon: null } }],
      subject: ({ request }) => ({ uid: request?.headers['x-user'], lang: 'en' }),
    },
  )
  b() {}

  @Post('c')
  @TrackEvent<Request, Order | undefined>({
    schema: CHECKOUT,
    // undefined: no event for this call
    data: ({ result }) => (result ? { orderId: result.id, total: result.total } : undefined),
  })
  c() {}

  @Post('d')
  @TrackEvent({ schema: CHECKOUT, data: ({ error }) => ({ orderId: String(error), total: 0 }) }, { on: 'error' })
  d() {}

  @Post('e')
  @TrackEvent<Request, Order>(
    {
      schema: CART,
      data: (ctx) => (ctx.outcome === 'success' ? { items: ctx.result.items } : { items: 0 }),
    },
    { on: 'always', entities: [{ schema: CHECKOUT, data: { orderId: 'o', total: 1 } }] },
  )
  e() {}

  @Post('f')
  @TrackEvent('order_viewed', { props: { id: 1 }, entities: [{ schema: CART, data: { items: 2 } }] })
  f() {}

  @Post('g')
  @TrackBillingEvent<Request, Order>(({ result }) => ({ ...BILL, quantity: result.items }), {
    optional: { projectId: 7 },
    entities: ({ result }) => [{ schema: CART, data: { items: result.items } }],
    subject: { uid: 'u-1' },
  })
  g() {}

  // The package's own decorators: any Iglu URI, any object.
  @Post('h')
  @LooseTrackEvent({ schema: 'iglu:com.other/thing/jsonschema/1-0-0', data: { anything: [1] } })
  @LooseBilling(BILL, { entities: [{ schema: 'iglu:com.other/thing/jsonschema/1-0-0', data: { x: 1 } }] })
  h() {}
${FOOTER}`;

/** Each case: its name, the line that must fail (marked FAIL), the code, what the message says. */
const CASES: Array<[string, string, string, RegExp]> = [
  [
    'missing-field',
    "  @TrackEvent({ schema: CHECKOUT, data: { orderId: 'o-1' } }) // FAIL",
    'TS2769',
    /Property 'total' is missing in type '\{ orderId: string; \}' but required in type 'AcmeCheckoutV1_0_0'/,
  ],
  [
    'wrong-type-from-function',
    '  @TrackEvent<Request, Order>({ schema: CHECKOUT, data: ({ result }) => ({ orderId: result.id, total: String(result.total) }) }) // FAIL',
    'TS2769',
    /The types of 'total' are incompatible[^]*Type 'string' is not assignable to type 'number'/,
  ],
  [
    'unknown-field',
    "  @TrackEvent({ schema: CHECKOUT, data: { orderId: 'o', total: 1, tax: 2 } }) // FAIL",
    'TS2769',
    /'tax' does not exist in type 'TrackEventData<AcmeCheckoutV1_0_0/,
  ],
  [
    'unknown-schema',
    "  @TrackEvent({ schema: 'iglu:com.acme/refund/jsonschema/1-0-0', data: { orderId: 'o' } }) // FAIL",
    'TS2769',
    /Type '"iglu:com.acme\/refund\/jsonschema\/1-0-0"' is not assignable to type '"iglu:com.acme\/checkout\/jsonschema\/1-0-0" \| "iglu:com.acme\/cart\/jsonschema\/1-0-0"'/,
  ],
  [
    'entity-wrong-type',
    "  @TrackEvent('order_viewed', { entities: [{ schema: CART, data: { items: '3' } }] }) // FAIL",
    'TS2769',
    /Type 'string' is not assignable to type 'number'/,
  ],
  [
    'entity-function-missing-field',
    "  @TrackEvent({ schema: CHECKOUT, data: { orderId: 'o', total: 1 } }, { on: 'always', entities: () => [{ schema: CART, data: {} }] }) // FAIL",
    'TS2769',
    /Property 'items' is missing in type '\{\}' but required in type 'AcmeCartV1_0_0'/,
  ],
  [
    'billing-entity-wrong-type',
    '  @TrackBillingEvent(BILL, { entities: [{ schema: CART, data: { items: 1, coupon: 5 } }] }) // FAIL',
    'TS2769',
    /Type 'number' is not assignable to type 'string'/,
  ],
  [
    'error-context-has-no-result',
    "  @TrackEvent<Request, Order>({ schema: CHECKOUT, data: ({ result }) => ({ orderId: result.id, total: 1 }) }, { on: 'error' }) // FAIL",
    'TS18048',
    /'result' is possibly 'undefined'/,
  ],
];

describe('createTrackDecorators<S>(): the compiler checks the decorators against the catalogue', () => {
  let dir: string;
  let diagnostics: Diagnostic[];
  const sources = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nestjs-snowplow-decorator-types-'));
    writeFileSync(join(dir, 'ok.ts'), OK);
    for (const [name, line] of CASES) {
      const source = `${HEADER}${line}\n${FOOTER}`;
      sources.set(name, source);
      writeFileSync(join(dir, `${name}.ts`), source);
    }
    // One tsc run for every file: each case file holds one wrong decorator and nothing else wrong.
    diagnostics = await typecheck(dir, ['ok.ts', ...CASES.map(([name]) => `${name}.ts`)]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles the calls that follow the schemas, static and from the context, on every `on`', () => {
    expect(diagnostics.filter((d) => d.file === 'ok.ts')).toEqual([]);
    // Nothing else failed either: every diagnostic is in a case file.
    expect(diagnostics.filter((d) => !CASES.some(([name]) => d.file === `${name}.ts`))).toEqual([]);
  });

  it.each(CASES)('%s does not compile', (name, _line, code, reason) => {
    const found = diagnostics.filter((d) => d.file === `${name}.ts`);
    expect(found.map((d) => ({ line: d.line, code: d.code }))).toEqual([
      { line: lineOf(sources.get(name)!, '// FAIL'), code },
    ]);
    expect(`${found[0].message}\n${found[0].details}`).toMatch(reason);
  });
});
