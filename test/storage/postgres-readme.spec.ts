// The README's outbox DDL is the table's contract with users' migrations: it must be exactly what
// postgresOutboxDdl() gives (and migratePostgresOutbox / createTable run) for the defaults.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresOutboxDdl } from '../../lib/core';

it("the README's DDL is postgresOutboxDdl() for the default schema and table", () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### PostgreSQL outbox'), readme.indexOf('### Deploying'));
  const block = /For the defaults it is:\n\n```sql\n([\s\S]*?)```/.exec(section);
  expect(block).not.toBeNull();
  expect(block![1].trim()).toBe(postgresOutboxDdl().trim());
});
