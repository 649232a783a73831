import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { HostOpParsed, HostOpResults } from '@tandem/contracts';
import { KeepAsideService } from './keep-aside.service';
import { ReplicationReceiver } from './replication-receiver.service';
import { SshKeysService } from './ssh-keys.service';

/** replication.* and ssh.* operations: pulling snapshots from a peer, keeping a replica's data aside, this node's replication keys. */
@Controller()
export class ReplicationConsumer {
  constructor(
    private readonly keys: SshKeysService,
    private readonly receiver: ReplicationReceiver,
    private readonly keeper: KeepAsideService,
  ) {}

  @MessagePattern('ssh.keys')
  sshKeys(): HostOpResults['ssh.keys'] {
    return this.keys.publicKeys();
  }

  @MessagePattern('ssh.rotate')
  sshRotate(@Payload() req: HostOpParsed<'ssh.rotate'>): HostOpResults['ssh.rotate'] {
    return req.phase === 'prepare' ? this.keys.prepare() : this.keys.commit();
  }

  @MessagePattern('replication.receive')
  receive(@Payload() req: HostOpParsed<'replication.receive'>): Promise<HostOpResults['replication.receive']> {
    return this.receiver.receive(req);
  }

  @MessagePattern('replication.keep-aside')
  keepAside(@Payload() req: HostOpParsed<'replication.keep-aside'>): Promise<HostOpResults['replication.keep-aside']> {
    return this.keeper.keepAside(req);
  }
}
