import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A subscriber in a process of its own (so that it does not share the event loop of what it
 * measures, as in production) that reads each request and answers `status` with no body at once,
 * on keep-alive connections. The caller kills `child` when done.
 */
export async function startSubscriberProcess(status: number): Promise<{ readonly url: string; readonly child: ChildProcess }> {
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error(`a subscriber answers an HTTP status (100-599), got ${status}`);
  const code = `
    const http = require('node:http');
    const server = http.createServer((req, res) => { req.on('data', () => {}); req.on('end', () => { res.writeHead(${status}, { 'content-length': '0' }); res.end(); }); });
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (exitCode) => reject(new Error(`the subscriber process exited with ${exitCode} before listening`)));
  });
  return { url: `http://127.0.0.1:${port}/`, child };
}
