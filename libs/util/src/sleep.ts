/** Resolves after `ms`. The timer keeps the process alive, as a plain await of a delay should. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
