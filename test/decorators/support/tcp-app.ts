import { INestMicroservice, ModuleMetadata } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, MicroserviceOptions, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { AddressInfo, Server } from 'node:net';

/** A TCP microservice of `metadata` on a free loopback port, and a client connected to it; the caller closes both. */
export async function startTcpApp(
  metadata: ModuleMetadata,
  prepareClient: (client: ClientProxy) => void = () => undefined,
): Promise<{ app: INestMicroservice; client: ClientProxy }> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestMicroservice<MicroserviceOptions>({
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port: 0 },
  });
  app.useLogger(false);
  await app.listen();
  const { port } = app.unwrap<Server>().address() as AddressInfo;
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  prepareClient(client);
  await client.connect();
  return { app, client };
}
