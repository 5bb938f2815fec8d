import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { HttpModule, HttpService } from '@nestjs/axios';

@Controller()
class C { @Get() hi() { return { ok: true }; } }
@Module({ imports: [HttpModule], controllers: [C] })
class M {}

it('boots nest 12', async () => {
  const m = await Test.createTestingModule({ imports: [M] }).compile();
  const app = m.createNestApplication();
  await app.init();
  await request(app.getHttpServer()).get('/').expect(200, { ok: true });
  expect(app.get(HttpService)).toBeDefined();
  await app.close();
});
