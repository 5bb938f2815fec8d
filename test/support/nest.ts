import { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';

/** Compiles and initialises a Nest app for a test; the caller closes it. */
export async function createApp(
  metadata: ModuleMetadata,
  { logger = false }: { logger?: false | LoggerService } = {},
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication({ logger });
  await app.init();
  return app;
}
