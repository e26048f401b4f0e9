// Pins freePort: a port outside the OS's ephemeral ranges that a server can bind right after.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../local/ports';

describe('freePort', () => {
  it('gives ports below the ephemeral ranges that a server on every address can then bind', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, freePort));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(32_000);
    }
    const s = createServer();
    await new Promise<void>((resolve, reject) => (s.once('error', reject), s.listen(ports[0], () => resolve())));
    await new Promise<void>((r) => s.close(() => r()));
  });

  it('skips a port that a server already holds', async () => {
    const held = createServer();
    const port = await freePort();
    await new Promise<void>((r) => held.listen(port, () => r()));
    const random = Math.random;
    let draws = 0;
    // The first draw lands on the held port, the next elsewhere.
    Math.random = () => (draws++ === 0 ? (port - 20_000 + 0.5) / 12_000 : random());
    try {
      expect(await freePort()).not.toBe(port);
      expect(draws).toBeGreaterThan(1);
    } finally {
      Math.random = random;
      await new Promise<void>((r) => held.close(() => r()));
    }
  });
});
