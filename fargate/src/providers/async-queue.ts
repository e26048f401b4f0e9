// A single-consumer push queue exposed as an async iterable: how socket callbacks become the seams' AsyncIterables.

/**
 * Items pushed from event callbacks (a vendor socket's `message`/`close`) and consumed with `for await`.
 * `end()` finishes the iteration after the buffered items; `fail(err)` throws `err` after them, so nothing
 * already received is lost when the socket dies.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private done = false;
  private error: { err: unknown } | undefined;
  private wake: (() => void) | undefined;

  /** Adds an item (ignored once the queue has ended or failed). */
  push(item: T): void {
    if (this.done || this.error) return;
    this.items.push(item);
    this.notify();
  }

  /** Ends the iteration once the buffered items are consumed. Idempotent. */
  end(): void {
    if (this.error) return;
    this.done = true;
    this.notify();
  }

  /** Makes the iteration throw `err` once the buffered items are consumed. The first failure wins. */
  fail(err: unknown): void {
    if (this.done || this.error) return;
    this.error = { err };
    this.notify();
  }

  /** True once `end()` or `fail()` was called. */
  get settled(): boolean {
    return this.done || this.error !== undefined;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.items.length) {
        yield this.items.shift()!;
        continue;
      }
      if (this.error) throw this.error.err;
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
