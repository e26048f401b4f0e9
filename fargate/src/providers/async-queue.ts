// A single-consumer push queue exposed as an async iterable: how socket callbacks become the seams' AsyncIterables.

/**
 * Items pushed from event callbacks (a vendor socket's `message`/`close`, Twilio's media frames) and consumed with
 * `for await`. `end()` finishes the iteration after the buffered items; `fail(err)` throws `err` after them, so
 * nothing already received is lost when the socket dies.
 *
 * The iterator is written by hand rather than as an async generator: an item costs one settled promise, where a
 * generator's `yield` adds its own awaits. Caller audio passes through three of these per 20 ms frame.
 */
export class AsyncQueue<T> implements AsyncIterable<T>, AsyncIterator<T> {
  private readonly items: T[] = [];
  private done = false;
  private error: { err: unknown } | undefined;
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (err: unknown) => void } | undefined;

  /** Adds an item (ignored once the queue has ended or failed). */
  push(item: T): void {
    if (this.done || this.error) return;
    const w = this.waiter;
    if (!w) return void this.items.push(item);
    this.waiter = undefined;
    w.resolve({ value: item, done: false });
  }

  /** Ends the iteration once the buffered items are consumed. Idempotent. */
  end(): void {
    if (this.error || this.done) return;
    this.done = true;
    this.settleWaiter();
  }

  /** Makes the iteration throw `err` once the buffered items are consumed. The first failure wins. */
  fail(err: unknown): void {
    if (this.done || this.error) return;
    this.error = { err };
    this.settleWaiter();
  }

  /** True once `end()` or `fail()` was called. */
  get settled(): boolean {
    return this.done || this.error !== undefined;
  }

  /** Items buffered and not yet read. */
  get length(): number {
    return this.items.length;
  }

  /** Removes the oldest buffered item that `match` accepts; true if there was one. */
  dropFirst(match: (item: T) => boolean): boolean {
    const i = this.items.findIndex(match);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.error) return Promise.reject(this.error.err);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The consumer broke out (single consumer): the queue ends and drops what it holds, so nothing accumulates for nobody. */
  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    if (!this.error) this.done = true;
    this.settleWaiter();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this;
  }

  private settleWaiter(): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    if (this.error) w.reject(this.error.err);
    else w.resolve({ value: undefined, done: true });
  }
}
