import type { ProviderError } from './provider-error.js';

export interface CredentialStatusOptions {
  /**
   * How long a refusal keeps counting without a later success. A load balancer sends no work to a
   * replica that is not ready, so without an end the replica could never make the call that proves
   * the key works again. Default 60 s.
   */
  refusalHoldMs?: number;
  /** Replaces the clock (tests). */
  now?: () => number;
}

/**
 * Whether the provider accepted our credentials on its most recent call, learnt from the calls the
 * bot makes anyway: `/readyz` reads it, so a probe never costs a (paid) model call.
 *
 * @example
 * const status = new CredentialStatus();
 * status.refused(authError); status.lastRefusal // authError
 * status.accepted();         status.lastRefusal // undefined
 */
export class CredentialStatus {
  private refusal: { error: ProviderError; at: number } | undefined;
  private readonly refusalHoldMs: number;
  private readonly now: () => number;

  constructor(options: CredentialStatusOptions = {}) {
    this.refusalHoldMs = options.refusalHoldMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** A call got a successful response: the credentials work. */
  accepted(): void {
    this.refusal = undefined;
  }

  /** A call was refused for its credentials (HTTP 401/403, CLOVA 401xx/403xx). */
  refused(error: ProviderError): void {
    this.refusal = { error, at: this.now() };
  }

  /** The refusal of the most recent call, unless a call succeeded since or it is older than the hold. */
  get lastRefusal(): ProviderError | undefined {
    if (this.refusal && this.now() - this.refusal.at >= this.refusalHoldMs) this.refusal = undefined;
    return this.refusal?.error;
  }
}
