// Test helper: an HTTP proxy in front of dynalite that answers 503 ServiceUnavailable while `failing` is set (a DynamoDB outage).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FailingProxy {
  endpoint: string;
  /** While true every request gets 503 (DynamoDB's ServiceUnavailable), else it is forwarded to the target. */
  failing: boolean;
  /** Requests answered 503 so far. */
  refused: number;
  close(): Promise<void>;
}

/**
 * DynamoDB answers an outage with HTTP 503 and `__type` ServiceUnavailable (the AWS SDK retries it as a transient
 * server error: @smithy/core retry/service-error-classification/constants.js TRANSIENT_ERROR_STATUS_CODES = [500, 502, 503, 504]).
 */
export async function failingProxy(target: string): Promise<FailingProxy> {
  const to = new URL(target);
  const self: FailingProxy = { endpoint: '', failing: false, refused: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    if (self.failing) {
      self.refused++;
      req.resume();
      const body = JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ServiceUnavailable', message: 'Service Unavailable' });
      res.writeHead(503, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    const up = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  self.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  self.close = () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
  return self;
}
