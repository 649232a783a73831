import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  ACTOR_HEADER,
  API_PREFIX,
  actorSchema,
  shareUserAddBodySchema,
  shareUserNameSchema,
  shareUserOpResults,
  shareUserPasswordBodySchema,
  type RmOpResults,
  type ShareUserOperation,
} from '@tandem/contracts';
import { ResourceManagerClient } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { ApiAuthenticated, ApiProblems, ref, schemaOf } from './openapi';
import { ntHash } from './nt-hash';
import { askResourceManager, parseBody, pathParam } from './resource-manager';

const CHECK = 'check tandem share user list and the activity log';

/**
 * SMB share users: logins of SMB shares, the same on every node. A password is taken here, turned
 * into its NT hash at once and never sent on, logged or kept; the active resource-manager keeps the
 * user, and every node's host-executor makes its account.
 */
@ApiTags('shares')
@Controller(API_PREFIX.slice(1))
export class ShareUsersController {
  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly rm: ResourceManagerClient,
  ) {}

  private actor(header: string | undefined): string {
    return header !== undefined && actorSchema.safeParse(header).success ? header : `api@${this.ctx.config.nodeId}`;
  }

  private forward<O extends ShareUserOperation>(op: O, payload: Record<string, unknown>): Promise<RmOpResults[O]> {
    return askResourceManager(this.rm, op, payload, { timeoutMs: 30_000, check: CHECK });
  }

  @Get('share-users')
  @ApiOperation({
    summary: 'The share users',
    description: 'Each with its uid (the same on every node), when it was added and its password last set, and the SMB shares that let it in. Never a password or a hash.',
  })
  @ApiResponse({ status: 200, description: 'The share users', schema: schemaOf(shareUserOpResults['share-user.list']) })
  @ApiProblems(401, 502, 503, 504)
  list(): Promise<RmOpResults['share-user.list']> {
    return this.forward('share-user.list', {});
  }

  @Post('share-users')
  @ApiAuthenticated()
  @ApiOperation({
    summary: 'Add a share user',
    description:
      'An SMB login for the shares that name it (pool attach: shares[].users). Every node makes a unix account of that name with the same uid (no home, no shell), so what it writes keeps its owner when the pool moves. ' +
      'The password (8–128 characters) is kept only as its NT hash, which smbd checks logins against.',
  })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('AddShareUserRequest') })
  @ApiResponse({ status: 201, description: 'The share user', schema: schemaOf(shareUserOpResults['share-user.add']) })
  @ApiProblems(400, 401, 409, 502, 503, 504)
  async add(@Body() raw: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<RmOpResults['share-user.add']> {
    const b = parseBody(shareUserAddBodySchema, raw);
    return this.forward('share-user.add', { name: b.name, ntHash: await ntHash(b.password), actor: this.actor(actor) });
  }

  @Put('share-users/:name/password')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: "Set a share user's password", description: 'Takes effect on every node at its next login; sessions already open go on.' })
  @ApiParam({ name: 'name', schema: ref('ShareUserName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiBody({ schema: ref('ShareUserPasswordRequest') })
  @ApiResponse({ status: 200, description: 'The share user', schema: schemaOf(shareUserOpResults['share-user.password']) })
  @ApiProblems(400, 401, 404, 502, 503, 504)
  async password(@Param('name') name: string, @Body() raw: unknown, @Headers(ACTOR_HEADER) actor?: string): Promise<RmOpResults['share-user.password']> {
    pathParam('name', name, shareUserNameSchema);
    const b = parseBody(shareUserPasswordBodySchema, raw);
    return this.forward('share-user.password', { name, ntHash: await ntHash(b.password), actor: this.actor(actor) });
  }

  @Delete('share-users/:name')
  @ApiAuthenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Remove a share user', description: 'Refused while an SMB share lets it in. Every node removes its account; its uid is never given again, so what it wrote stays its own.' })
  @ApiParam({ name: 'name', schema: ref('ShareUserName') })
  @ApiHeader({ name: ACTOR_HEADER, required: false })
  @ApiResponse({ status: 200, description: 'The name removed', schema: schemaOf(shareUserOpResults['share-user.remove']) })
  @ApiProblems(400, 401, 404, 502, 503, 504)
  remove(@Param('name') name: string, @Headers(ACTOR_HEADER) actor?: string): Promise<RmOpResults['share-user.remove']> {
    pathParam('name', name, shareUserNameSchema);
    return this.forward('share-user.remove', { name, actor: this.actor(actor) });
  }
}
