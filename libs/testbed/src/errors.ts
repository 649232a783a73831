/**
 * Error raised by every testbed operation. `code` is stable and machine readable;
 * `message` says what went wrong and what to do next.
 */
export type TestbedErrorCode =
  | 'NOT_ROOT'
  | 'MISSING_PREREQS'
  | 'USAGE'
  | 'UNKNOWN_NODE'
  | 'UNKNOWN_NETWORK'
  | 'NOT_ON_NETWORK'
  | 'NOT_STORAGE'
  | 'NOT_UP'
  | 'NODE_OFF'
  | 'NODE_COUNT_MISMATCH'
  | 'COMMAND_FAILED'
  | 'TIMEOUT'
  | 'DAEMON_EXITED'
  | 'SERVICE_NOT_READY'
  | 'PERMISSIONS'
  | 'UNSAFE_ROOT';

export class TestbedError extends Error {
  override readonly name = 'TestbedError';
  constructor(
    readonly code: TestbedErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** Usage-type errors (bad node name, bad network, bad arguments) exit with 2; others with 1. */
  get exitCode(): number {
    switch (this.code) {
      case 'USAGE':
      case 'UNKNOWN_NODE':
      case 'UNKNOWN_NETWORK':
      case 'NOT_ON_NETWORK':
      case 'NODE_COUNT_MISMATCH':
      case 'MISSING_PREREQS':
      case 'NOT_ROOT':
        return 2;
      default:
        return 1;
    }
  }
}
