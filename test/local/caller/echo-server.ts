// Test-only tiny Media Streams agent: answers caller speech with tone-text audio and marks, honours the Twilio protocol, logs everything.
import { once } from 'node:events';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';
import { WebSocketServer, type WebSocket } from 'ws';
import { isSpeech } from '../../../local/audio/mulaw';
import { encodeToneText } from '../../../local/audio/tone-text';

export interface EchoOptions {
  authToken: string;
  /** Said as soon as `start` arrives. @default none */
  greeting?: string;
  /** Reply to the n-th (0-based) caller utterance. @default none (a silent agent) */
  reply?: (n: number) => string | undefined;
  /** Caller silence that ends an utterance. @default 300 */
  endpointMs?: number;
  /** Audio bytes per media message; a mark follows each. @default 2600 (5 tone blocks, 325 ms) */
  chunkBytes?: number;
  /** Send a mark with nothing queued right after `start`. @default false */
  markFirst?: boolean;
  /** Clear when the caller speaks over the agent. @default true */
  bargeIn?: boolean;
  /** Close the socket this many ms after `start`. @default never */
  closeAfterMs?: number;
  /** Answer each WebSocket upgrade this many ms late (a slow task behind the balancer). @default 0 */
  upgradeDelayMs?: number;
}

/** One message in either direction, stamped with the server's clock (performance.now()). */
export interface Logged {
  at: number;
  dir: 'in' | 'out';
  msg: any;
}

export interface EchoCall {
  log: Logged[];
  upgradeUrl: string;
  upgradeSignatureValid: boolean;
  /** Per reply: server time of the last caller speech frame received and of the first reply audio sent. */
  replies: { lastSpeechAt: number; firstAudioAt: number; text: string }[];
  /** Total audio bytes sent. */
  audioBytesSent: number;
  closed: Promise<void>;
}

export interface Webhook {
  params: Record<string, string>;
  signatureValid: boolean;
}

export interface EchoServer {
  port: number;
  calls: EchoCall[];
  webhooks: Webhook[];
  close(): Promise<void>;
}

export async function startEchoServer(o: EchoOptions): Promise<EchoServer> {
  const calls: EchoCall[] = [];
  const webhooks: Webhook[] = [];
  let port = 0;
  const server: Server = createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/twiml') return void res.writeHead(404).end();
    let body = '';
    for await (const c of req) body += c;
    const params = Object.fromEntries(new URLSearchParams(body));
    const signatureValid = twilio.validateRequest(o.authToken, String(req.headers['x-twilio-signature'] ?? ''), `http://127.0.0.1:${port}/twiml`, params);
    webhooks.push({ params, signatureValid });
    if (!signatureValid) return void res.writeHead(403).end('bad signature');
    res.writeHead(200, { 'content-type': 'text/xml' }).end(
      `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="ws://127.0.0.1:${port}/media?dropped=1"><Parameter name="agent" value="echo &amp; co"/><Parameter name="token" value="t-${params.CallSid}"/></Stream></Connect></Response>`,
    );
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    const upgradeUrl = req.url ?? '';
    const upgradeSignatureValid = twilio.validateRequest(o.authToken, String(req.headers['x-twilio-signature'] ?? ''), `ws://127.0.0.1:${port}${upgradeUrl}`, {});
    const accept = () => wss.handleUpgrade(req, socket, head, (ws) => serve(ws, upgradeUrl, upgradeSignatureValid));
    if (o.upgradeDelayMs) setTimeout(accept, o.upgradeDelayMs);
    else accept();
  });

  function serve(ws: WebSocket, upgradeUrl: string, upgradeSignatureValid: boolean): void {
    const call: EchoCall = { log: [], upgradeUrl, upgradeSignatureValid, replies: [], audioBytesSent: 0, closed: once(ws, 'close').then(() => undefined) };
    calls.push(call);
    let streamSid = '';
    let playEnd = 0;
    let inSpeech = false;
    let lastSpeechAt = 0;
    let utterances = 0;
    let marks = 0;
    const send = (msg: object) => {
      call.log.push({ at: performance.now(), dir: 'out', msg });
      ws.send(JSON.stringify(msg));
    };
    const say = (text: string) => {
      const audio = encodeToneText(text);
      const chunk = o.chunkBytes ?? 2600;
      const now = performance.now();
      for (let i = 0; i < audio.length; i += chunk) {
        send({ event: 'media', streamSid, media: { payload: Buffer.from(audio.subarray(i, i + chunk)).toString('base64') } });
        send({ event: 'mark', streamSid, mark: { name: `m${++marks}` } });
      }
      call.audioBytesSent += audio.length;
      playEnd = Math.max(playEnd, now) + audio.length / 8;
    };
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      const now = performance.now();
      call.log.push({ at: now, dir: 'in', msg });
      if (msg.event === 'start') {
        streamSid = msg.start.streamSid;
        if (o.markFirst) send({ event: 'mark', streamSid, mark: { name: 'empty' } });
        if (o.greeting) say(o.greeting);
        if (o.closeAfterMs !== undefined) setTimeout(() => ws.close(1000), o.closeAfterMs);
      }
      if (msg.event !== 'media') return;
      const speech = isSpeech(Buffer.from(msg.media.payload, 'base64'));
      if (speech) {
        if (!inSpeech && (o.bargeIn ?? true) && now < playEnd) {
          send({ event: 'clear', streamSid });
          playEnd = now;
        }
        inSpeech = true;
        lastSpeechAt = now;
      } else if (inSpeech && now - lastSpeechAt >= (o.endpointMs ?? 300)) {
        inSpeech = false;
        const text = o.reply?.(utterances++);
        if (text) {
          call.replies.push({ lastSpeechAt, firstAudioAt: performance.now(), text });
          say(text);
        }
      }
    });
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  return {
    port,
    calls,
    webhooks,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
