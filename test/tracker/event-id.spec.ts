import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { eventId } from '../../lib/tracker/event-id';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('event ids', () => {
  it("are random version 4 UUIDs in randomUUID()'s lower-case form, all distinct across many blocks", () => {
    const ids = Array.from({ length: 10_000 }, () => eventId());
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
    // Every hex digit turns up in every random position: no position is stuck.
    const positions = [0, 7, 9, 15, 20, 35];
    for (const at of positions) expect(new Set(ids.map((id) => id[at])).size).toBe(16);
  });

  it('an id a caller keeps holds only itself, never the block it was written with', () => {
    // A child with --expose-gc keeps 1 id in 128 (one per block) of 256,000 and weighs the heap.
    const script = `
      require('@swc-node/register');
      const { eventId } = require(${JSON.stringify(join(__dirname, '../../lib/tracker/event-id.ts'))});
      const kept = [];
      for (let i = 0; i < 1000; i++) eventId();
      gc(); gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 256000; i++) { const id = eventId(); if (i % 128 === 0) kept.push(id); }
      gc(); gc();
      const perId = (process.memoryUsage().heapUsed - before) / kept.length;
      process.stdout.write(String(perId));
    `;
    const perId = Number(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' }));
    // A flat 36-character string and its array slot: ~60 bytes. A slice of the block would hold 4.6 KB.
    expect(perId).toBeLessThan(400);
  });
});
