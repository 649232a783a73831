export type ShareErrorCode = 'INVALID_ARGUMENT' | 'SHARE_START_FAILED' | 'SHARE_STOP_FAILED';

export class ShareError extends Error {
  constructor(
    readonly code: ShareErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ShareError';
  }
}
