/** A command line the CLI cannot act on (a missing or malformed argument): exit code 2, with the reason. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
