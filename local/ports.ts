// A free local TCP port for a server that starts a moment later (media tasks, private Redis, dynalite in tests).
import { createServer } from 'node:net';

/**
 * Ports are drawn at random from 20000–31999, below the ephemeral ranges (Linux ip_local_port_range 32768–60999,
 * macOS and Windows 49152–65535). The OS hands ports from those ranges to outgoing connections and to servers that
 * listen on port 0, so a port taken there could be reused by a parallel test before the real server binds it: a
 * listen on port 0 followed by close did exactly that once (EADDRINUSE in CI). Each candidate is checked by binding
 * it on every address, as the servers do.
 */
const FIRST = 20_000;
const COUNT = 12_000;

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FIRST + Math.floor(Math.random() * COUNT);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${FIRST}–${FIRST + COUNT - 1}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, () => s.close(() => resolve(true)));
  });
}
