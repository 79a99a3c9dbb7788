// Reconnection policy, passed to the connections as a parameter (as websockets' connect()
// takes its backoff): delay in milliseconds before attempt number `attempt` (0, 1, 2, ...).

/** Exponential backoff with jitter: base, base*2, base*4, ... capped, each cut by up to half
 * at random so that many tabs that lost the server together do not return in lockstep. */
export function exponentialBackoff({ base = 500, cap = 10_000, factor = 2, jitter = 0.5 } = {}) {
  return (attempt) => {
    const delay = Math.min(cap, base * factor ** Math.max(0, attempt));
    return Math.round(delay * (1 - jitter * Math.random()));
  };
}

/** A promise that resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
