// A Hugging Face id on the page (issue 16; docs/hub.md, "On the page"): the browser fetches the file list,
// config.json and checkpoint headers itself, from a local stand-in for the Hub (tests/cli/hub-server.py, the same
// server the native program's tests use). The model is an invented model_type read from its headers: the expected
// count is the sum of the elements written here, the bytes fetched exactly the listing, config.json and the
// file's 8-byte length plus its header, and every figure also the native program's for the same id (--online).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { artifacts, cli, digits, expect, root, settled, test } from './helpers.mjs';

const config = { model_type: 'zorblax', torch_dtype: 'bfloat16', num_hidden_layers: 3, hidden_size: 64, vocab_size: 128 };

function safetensors(layers) {
  const tensors = [['model.embed_tokens.weight', [128, 64], 'BF16']];
  for (let l = 0; l < layers; ++l)
    tensors.push([`model.layers.${l}.zorb.weight`, [64, 64], 'BF16'], [`model.layers.${l}.norm.weight`, [64], 'F32']);
  const header = {};
  let offset = 0;
  let elements = 0;
  for (const [name, shape, dtype] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype, shape, data_offsets: [offset, offset + n * (dtype === 'F32' ? 4 : 2)] };
    offset += n * (dtype === 'F32' ? 4 : 2);
    elements += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return { bytes: Buffer.concat([length, json, Buffer.alloc(offset)]), headerBytes: 8 + json.length, elements };
}

// The listing as the server writes it (Python's json.dumps, default separators).
const listing = (id, rev, names) =>
  `{"id": "${id}", "sha": "${rev}", "siblings": [${names.map((n) => `{"rfilename": "${n}"}`).join(', ')}]}`;

let server;
let endpoint;
let model;
const hubRoot = mkdtempSync(path.join(tmpdir(), 'modelplan-hub-'));

test.beforeAll(async () => {
  model = safetensors(3);
  for (const repo of ['zorblax-mini', 'gated-mini']) {
    const dir = path.join(hubRoot, 'acme', repo, 'main');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    writeFileSync(path.join(dir, 'model.safetensors'), model.bytes);
  }
  writeFileSync(path.join(hubRoot, 'acme', 'gated-mini', 'gated'), '');
  server = spawn('python3', [path.join(root, 'tests/cli/hub-server.py'), hubRoot], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    server.stdout.once('data', (d) => resolve(String(d).trim()));
    server.once('exit', (code) => reject(new Error(`hub-server.py exited with ${code}`)));
  });
  endpoint = `http://127.0.0.1:${port}`;
  // The native program reads the same ids from the same server, with nothing cached.
  process.env.HF_ENDPOINT = endpoint;
  process.env.HF_HUB_CACHE = mkdtempSync(path.join(tmpdir(), 'modelplan-empty-cache-'));
  process.env.MODELPLAN_ONLINE = '1';
});

test.afterAll(() => {
  server?.kill();
  delete process.env.MODELPLAN_ONLINE;
});

async function stats() {
  return (await fetch(`${endpoint}/stats`)).json();
}

async function fetchId(page, id, token = '') {
  await page.locator('.hub-more summary').click();
  await page.getByTestId('hub-endpoint').fill(endpoint);
  await page.getByTestId('hub-token').fill(token);
  await page.getByTestId('hub-id').fill(id);
  await page.getByTestId('hub-fetch').click();
}

test('a Hub id: file list, config.json and headers by Range requests, exactly those bytes', async ({ page, app }) => {
  await app.open();
  await fetchId(page, 'acme/zorblax-mini');
  await expect(page.getByTestId('hub-status')).toContainText('fetched');
  await settled(page);
  await expect(page.getByTestId('error')).toBeHidden();
  expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(model.elements);
  const expected = listing('acme/zorblax-mini', 'main', ['config.json', 'model.safetensors']).length +
    JSON.stringify(config).length + model.headerBytes;
  await expect(page.getByTestId('hub-status')).toHaveAttribute('data-fetched', String(expected));
  await expect(page.getByTestId('model-note')).toContainText('acme/zorblax-mini from the Hub');
  // The native program, online, reads the same model and fetches the same bytes.
  const native = cli('params', 'acme/zorblax-mini');
  expect(native.params.total).toBe(model.elements);
  expect(native.fetched_bytes).toBe(expected);
  const plan = cli('plan', 'acme/zorblax-mini', '--gpu', 'rtx-4090').plan;
  expect(digits(await page.getByTestId('mem-total').locator('.exact').textContent())).toBe(plan.total_bytes);
  await page.locator('#model-card').screenshot({ path: path.join(artifacts, 'hub-id.png') });

  // The link carries the id and the endpoint; opened again, it fetches again and shows the same model.
  await page.waitForFunction(() => location.hash.includes('hub='));
  const link = new URL(page.url()).hash;
  expect(decodeURIComponent(link)).toContain('hub=acme/zorblax-mini');
  expect(decodeURIComponent(link)).toContain(`hub_endpoint=${endpoint}`);
  await app.open(`/${link}`);
  await expect(page.getByTestId('hub-status')).toContainText('fetched');
  await settled(page);
  expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(model.elements);
});

test('a gated Hub id: refused without a token, read with one that never reaches the CDN or the link', async ({ page, app }) => {
  await app.open();
  await fetchId(page, 'acme/gated-mini');
  await expect(page.getByTestId('error')).toContainText('HTTP 401');
  await expect(page.getByTestId('error')).toContainText('token');
  await page.getByTestId('hub-token').fill('secret');
  await page.getByTestId('hub-fetch').click();
  await expect(page.getByTestId('hub-status')).toContainText('fetched');
  await settled(page);
  expect(digits(await page.getByTestId('total-params').locator('.exact').textContent())).toBe(model.elements);
  // The checkpoint file is redirected to another host name (as the Hub sends LFS files to its CDN): the browser
  // drops the token there.
  expect((await stats()).auth_elsewhere).toBe(0);
  await page.waitForFunction(() => location.hash.includes('hub='));
  expect(page.url()).not.toContain('secret');
  // No such repository: the Hub's 404 in words.
  await page.getByTestId('hub-id').fill('acme/absent');
  await page.getByTestId('hub-fetch').click();
  await expect(page.getByTestId('error')).toContainText('not found on the Hub');
  await page.getByTestId('hub-id').fill('not an id');
  await page.getByTestId('hub-fetch').click();
  await expect(page.getByTestId('error')).toContainText('is not a Hugging Face id');
  // The refusals asked for here (401, 404) are the only failed loads the browser logged.
  const expectedRefusals = (e) => e.includes(endpoint) || /status of 40[14]/.test(e);
  expect(app.errors.filter(expectedRefusals).length).toBeGreaterThan(0);
  app.errors.splice(0, app.errors.length, ...app.errors.filter((e) => !expectedRefusals(e)));
});

test('a bundled preset\'s repository is answered offline', async ({ page, app }) => {
  await app.open();
  const before = (await stats()).requests.length;
  await fetchId(page, 'META-LLAMA/llama-3.1-8b');
  await expect(page.getByTestId('hub-status')).toContainText('nothing fetched');
  await settled(page);
  await expect(page.getByTestId('model-title')).toHaveText('llama-3.1-8b');
  expect((await stats()).requests.length).toBe(before + 1); // only this /stats
});
