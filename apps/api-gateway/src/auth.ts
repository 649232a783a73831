import { Body, Controller, HttpCode, Inject, Injectable, Logger, Post, Req, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ADMIN_USER, ApiPaths, ErrorCode, TOKEN_TTL_MS, TandemError, describeZodError, tokenRequestSchema, tokenResponseSchema, type TokenResponse } from '@tandem/contracts';
import { GATEWAY_CONFIG, type GatewayConfig } from './config';
import { ApiProblems, ref, schemaOf } from './openapi';
import { LoginThrottle } from './login-throttle';
import { isRevoked, passwordMatches, signToken, verifyToken, waitBeforeIssuing } from './token';
import { TokenRevocations } from './token-revocation';

export const IS_PUBLIC = 'tandem:public';
/** A mutating route that needs no credentials (only the token endpoint). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Reads are open by default: the API shows cluster state to anyone who can reach it (TANDEM_API_READS=authenticated closes them). */
const OPEN_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** For an AuthService made without the gateway's module (unit tests): nothing was ever revoked. */
const NO_REVOCATIONS = { revokedBefore: () => Promise.resolve(null), known: () => null };

/** Slows down password guessing a little; the answer says nothing but "wrong password". */
const FAILED_PASSWORD_DELAY_MS = 400;

const HOW = `send "Authorization: Bearer <token>" (from POST ${ApiPaths.token}) or "Authorization: Basic <base64 of ${ADMIN_USER}:PASSWORD>"`;

@Injectable()
export class AuthService {
  private readonly logger = new Logger('auth');

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(LoginThrottle) private readonly throttle: LoginThrottle = new LoginThrottle(),
    @Inject(TokenRevocations) private readonly revocations: Pick<TokenRevocations, 'revokedBefore' | 'known'> = NO_REVOCATIONS,
  ) {}

  private async refuse(message: string, from: string): Promise<never> {
    this.logger.warn(`refused credentials from ${from}: ${message}`);
    await this.throttle.failed(from);
    await new Promise((r) => setTimeout(r, FAILED_PASSWORD_DELAY_MS));
    throw new TandemError(ErrorCode.Unauthorized, message);
  }

  /** POST /api/v1/auth/token: a token for the right password, 401 "wrong password" otherwise. */
  async issue(password: string, from: string): Promise<TokenResponse> {
    await this.throttle.check(from);
    if (!passwordMatches(this.config.adminPassword, password)) return this.refuse('wrong password', from);
    await this.throttle.succeeded(from);
    // a token of the second of a revocation would be revoked with it: issue from the next second
    const wait = waitBeforeIssuing(this.revocations.known() ?? null);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = signToken(this.config.tokenSecret, ADMIN_USER, TOKEN_TTL_MS);
    return { token: t.token, expiresAt: t.expiresAt.toISOString() };
  }

  /** Checks an Authorization header; throws UNAUTHORIZED saying what to send. */
  async authenticate(header: string | undefined, from: string): Promise<string> {
    if (!header) throw new TandemError(ErrorCode.Unauthorized, `authentication required: ${HOW}`);
    const m = /^(Bearer|Basic)\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new TandemError(ErrorCode.Unauthorized, `unsupported Authorization header: ${HOW}`);
    if (m[1].toLowerCase() === 'bearer') {
      const check = verifyToken(this.config.tokenSecret, m[2]);
      if (check.ok) {
        const before = await this.revocations.revokedBefore();
        if (isRevoked(check.claims, before)) {
          throw new TandemError(ErrorCode.Unauthorized, `the token was revoked (every token issued until ${before!.toISOString()} was): get a new one from POST ${ApiPaths.token}`);
        }
        return check.claims.sub;
      }
      if (check.reason === 'expired') throw new TandemError(ErrorCode.Unauthorized, `the token expired at ${check.expiredAt?.toISOString()}: get a new one from POST ${ApiPaths.token}`);
      throw new TandemError(ErrorCode.Unauthorized, `the token is not valid (not issued by this cluster): get a new one from POST ${ApiPaths.token}`);
    }
    await this.throttle.check(from);
    const decoded = Buffer.from(m[2], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? '' : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    // Both compared every time: the answer does not tell a wrong user from a wrong password.
    const okPassword = passwordMatches(this.config.adminPassword, password);
    const okUser = passwordMatches(ADMIN_USER, user);
    if (!(okUser && okPassword)) return this.refuse('wrong user or password', from);
    await this.throttle.succeeded(from);
    return ADMIN_USER;
  }
}

/**
 * Every mutating request (POST, PUT, PATCH, DELETE) needs credentials, except the routes marked
 * @Public() (the token endpoint). Reads (GET, HEAD) are open by default: they show state, never
 * change it, and monitoring should not need a secret; with TANDEM_API_READS=authenticated they
 * need credentials too, all but /health/* (probes of orchestrators and load balancers).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    @Inject(GATEWAY_CONFIG) private readonly config: Pick<GatewayConfig, 'readsNeedLogin'>,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const req = ctx.switchToHttp().getRequest<Request>();
    if (OPEN_METHODS.has(req.method.toUpperCase()) && (!this.config.readsNeedLogin || req.path.startsWith('/health/') || req.path === '/metrics' || req.method.toUpperCase() === 'OPTIONS'))
      return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    await this.auth.authenticate(req.headers.authorization, req.ip ?? 'unknown');
    return true;
  }
}

@ApiTags('auth')
@Controller(ApiPaths.token.slice(1))
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post()
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Get an API token',
    description: `Exchanges the admin password for a signed token valid for ${TOKEN_TTL_MS / 3_600_000} h, accepted by every node's gateway of the cluster. Send it as "Authorization: Bearer <token>" on mutating requests. A wrong password gives 401 and nothing else; after 5 wrong passwords a minute from one address (50 from all), 429 with Retry-After.`,
  })
  @ApiBody({ schema: ref('TokenRequest') })
  @ApiResponse({ status: 200, description: 'The token', schema: schemaOf(tokenResponseSchema) })
  @ApiProblems(400, 401, 429)
  token(@Body() body: unknown, @Req() req: Request): Promise<TokenResponse> {
    const r = tokenRequestSchema.safeParse(body ?? {});
    if (!r.success) {
      const { field, message } = describeZodError(r.error);
      throw new TandemError(ErrorCode.InvalidArgument, message, field);
    }
    return this.auth.issue(r.data.password, req.ip ?? 'unknown');
  }
}
