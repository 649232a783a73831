import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Injectable, Module, Post, type CanActivate, type INestApplication } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ConsoleAssets } from './console-assets';

const dir = mkdtempSync(join(tmpdir(), 'tandem-console-'));

/** The console's files from a directory of the test's own. */
@Injectable()
class TestConsoleAssets extends ConsoleAssets {
  override onModuleInit(): void {
    super.onModuleInit(dir);
  }
}

/** Stands for the gateway's AuthGuard at its strictest: no route passes without credentials. */
@Injectable()
class DenyAll implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@Controller('api/v1/things')
class ThingsController {
  @Get()
  list() {
    return [{ name: 'api' }];
  }
  @Post()
  add() {
    return {};
  }
}

@Module({ controllers: [ThingsController], providers: [TestConsoleAssets, { provide: APP_GUARD, useClass: DenyAll }] })
class TestModule {}

let app: INestApplication;
let base: string;

before(async () => {
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tandem HA</title>');
  writeFileSync(join(dir, 'console.js'), 'export {};');
  app = await NestFactory.create(TestModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
});

after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the console is served at / without credentials, with a same-origin-only content policy', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /Tandem HA/);
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /https?:/, 'nothing from another origin');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const js = await fetch(`${base}/console.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
});

test("the API's routes stay the API's: its guard still decides, unknown paths are 404", async () => {
  assert.equal((await fetch(`${base}/api/v1/things`)).status, 403, 'the guard runs on API routes');
  assert.equal((await fetch(`${base}/api/v1/things`, { method: 'POST' })).status, 403);
  assert.equal((await fetch(`${base}/nothing-here.js`)).status, 404);
});
