// One timer per period for every pooled vendor socket's keep-alive check, instead of one interval per socket.

const clocks = new Map<number, { timer: NodeJS.Timeout; checks: Set<() => void> }>();

/**
 * Runs `check` every `periodMs` on the task's shared clock for that period; returns the function that stops it.
 * The timer is unref'd and exists only while a socket is registered, so an idle process can still exit.
 */
export function onKeepAliveTick(periodMs: number, check: () => void): () => void {
  let clock = clocks.get(periodMs);
  if (!clock) {
    const checks = new Set<() => void>();
    const timer = setInterval(() => {
      for (const c of checks) c();
    }, periodMs);
    timer.unref();
    clocks.set(periodMs, (clock = { timer, checks }));
  }
  const { timer, checks } = clock;
  checks.add(check);
  return () => {
    if (!checks.delete(check) || checks.size) return;
    clearInterval(timer);
    clocks.delete(periodMs);
  };
}
