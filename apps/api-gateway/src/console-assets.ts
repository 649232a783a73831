import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Response } from 'express';

/** Where the console's static files are built (apps/console/build.mjs), beside the gateway's own dist/. */
export const CONSOLE_DIR = join(__dirname, '..', '..', 'console', 'public');

/**
 * Only the console's own files: no inline script, nothing from another origin (no CDN), no framing.
 * The API it calls is the same origin.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The web console at `/`: static files served before the gateway's 404 handler (registered while
 * the modules initialise, like the API docs). Static GETs need no credentials (they are no Nest
 * route, so the AuthGuard never sees them); everything the console shows or does goes through the
 * API with the operator's token.
 */
@Injectable()
export class ConsoleAssets implements OnModuleInit {
  private readonly logger = new Logger('console');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(dir = CONSOLE_DIR): void {
    if (!existsSync(join(dir, 'index.html'))) {
      this.logger.warn(`the web console is not built (no ${join(dir, 'index.html')}): npm run build builds it`);
      return;
    }
    const adapter = this.adapterHost.httpAdapter as unknown as { useStaticAssets(path: string, options: unknown): void };
    adapter.useStaticAssets(dir, {
      index: 'index.html',
      fallthrough: true,
      redirect: false,
      setHeaders: (res: Response) => {
        for (const [k, v] of Object.entries(CONSOLE_HEADERS)) res.setHeader(k, v);
        res.setHeader('Cache-Control', 'no-cache');
      },
    });
  }
}
