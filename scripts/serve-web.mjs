// A tiny static file server for the calculator page, on 127.0.0.1 only (scripts/run.sh, tests/web/).
//   node scripts/serve-web.mjs [FOLDER] [PORT]     (defaults: build-wasm/web, $PORT or 8000; PORT 0 picks one)
// Also importable: `const { url, close } = await serve(folder, port)`.
import http from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const types = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8', '.md': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
};

export function serve(folder, port = 8000, host = '127.0.0.1') {
  const root = path.resolve(folder);
  const server = http.createServer(async (req, res) => {
    try {
      const pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      let file = path.resolve(root, `.${pathname}`);
      if (file !== root && !file.startsWith(root + path.sep)) throw Object.assign(new Error('outside'), { code: 'ENOENT' });
      if ((await stat(file)).isDirectory()) file = path.join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream',
        'content-length': body.length, 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      res.writeHead(e.code === 'ENOENT' || e.code === 'ENOTDIR' ? 404 : 500, { 'content-type': 'text/plain' });
      res.end(e.code === 'ENOENT' || e.code === 'ENOTDIR' ? 'not found\n' : 'error\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolve({ url: `http://${host}:${actual}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const folder = process.argv[2] ?? path.join(here, '..', 'build-wasm', 'web');
  const given = process.argv[3] ?? process.env.PORT ?? '8000';
  const port = /^[0-9]+$/.test(given) && Number(given) <= 65535 ? Number(given) : NaN;
  if (Number.isNaN(port)) {
    console.error(`modelplan: PORT must be a number from 0 to 65535, got "${given}"`);
    process.exit(2);
  }
  try {
    const { url } = await serve(folder, port);
    console.log(`modelplan calculator: ${url}  (serving ${path.resolve(folder)}; Ctrl-C stops)`);
  } catch (e) {
    console.error(e.code === 'EADDRINUSE' ? `modelplan: port ${port} on 127.0.0.1 is in use; choose another with PORT=...`
      : `modelplan: cannot serve on 127.0.0.1:${port}: ${e.message}`);
    process.exit(1);
  }
  // Ctrl-C (SIGINT) or a service manager's SIGTERM: stop at once, with the usual status.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
}
