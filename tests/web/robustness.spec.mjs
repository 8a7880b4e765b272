// The page under bad input, on a phone, in the dark and from the keyboard. Expected messages come from the
// native program (`modelplan ...` run here); every test also fails on any console error or page error (the
// `app` fixture in helpers.mjs).
import path from 'node:path';
import { test, expect, cli, cliError, choosePreset, setWorkload, settled, digits, artifacts } from './helpers.mjs';

const shownParams = async (page) => digits(await page.getByTestId('total-params').locator('.exact').textContent());
const shownMem = async (page) => digits(await page.getByTestId('mem-total').locator('.exact').textContent());

const tinyConfig = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, intermediate_size: 688,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 4096, max_position_embeddings: 2048 };

// Files the user might drop by mistake, built here: name -> bytes.
const enc = (s) => [...Buffer.from(s)];
function u64le(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return [...b];
}
const badFiles = [
  // What is wrong with it, the file, and the code the page shows.
  ['a text file', 'notes.txt', enc('hello'), 'unsupported'],
  ['a safetensors file cut inside its header', 'cut.safetensors', [...u64le(5000), ...enc('{"a": ')], 'bad_checkpoint'],
  ['a .gguf that is a zip archive', 'model.gguf', [...enc('PK\u0003\u0004'), ...new Array(64).fill(0)], 'bad_checkpoint'],
  ['an empty .safetensors', 'empty.safetensors', [], 'bad_checkpoint'],
  ['config.json that is an array', 'config.json', enc('[1, 2, 3]'), 'wrong_type'],
  ['config.json with a string where a count goes', 'config.json', enc('{"model_type": "llama", "hidden_size": "big"}'), 'wrong_type'],
];

async function drop(page, name, bytes, target = 'drop-zone') {
  const dataTransfer = await page.evaluateHandle(({ name, bytes }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], name));
    return dt;
  }, { name, bytes });
  if (target === 'page') await page.locator('body').dispatchEvent('drop', { dataTransfer });
  else await page.getByTestId(target).dispatchEvent('drop', { dataTransfer });
}

test('bad files: a message beside the file input, the last good result kept, nothing left busy', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'qwen2.5-7b');
  await settled(page);
  const params = await shownParams(page);
  const mem = await shownMem(page);
  expect(params).toBe(cli('params', 'qwen2.5-7b').params.total);

  for (const [what, name, bytes, code] of badFiles) {
    // Dropped from any tab (here the preset list is showing): the message is visible wherever it lands.
    await page.getByRole('tab', { name: 'Preset' }).click();
    await drop(page, name, bytes, 'page');
    const error = page.getByTestId('error');
    await expect(error, what).toBeVisible();
    await expect(error, what).toHaveAttribute('data-code', code);
    await expect(error, what).toContainText(name === 'config.json' ? '' : name);
    await expect(page.getByTestId('drop-zone'), what).not.toHaveAttribute('aria-busy', 'true');
    await expect(page.getByTestId('file-status'), what).not.toContainText('reading');
    await settled(page);
    expect(await shownParams(page), what).toBe(params);
    expect(await shownMem(page), what).toBe(mem);
  }

  // A config.json too large to be one (a 20 MiB file, sparse): refused before reading it.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(20 << 20)], 'config.json'));
    document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await expect(page.getByTestId('error')).toContainText('config.json is 20,971,520 bytes');
  expect(await shownParams(page)).toBe(params);

  // The message names what the native program says about the same truncated header.
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(path.join(tmpdir(), 'modelplan-bad-'));
  const [, name, bytes] = badFiles[1];
  writeFileSync(path.join(dir, name), Buffer.from(bytes));
  await page.getByRole('tab', { name: 'File' }).click();
  await page.getByTestId('file-input').setInputFiles(path.join(dir, name));
  await expect(page.getByTestId('error')).toContainText(cliError('inspect', path.join(dir, name)).replace(path.join(dir, ''), ''));

  // A good file afterwards: the error goes.
  await page.getByTestId('file-input').setInputFiles({ name: 'config.json', mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(tinyConfig)) });
  await settled(page);
  await expect(page.getByTestId('error')).toBeHidden();
});

test('a link with bad values: a message naming each, the defaults shown in their place, the rest kept', async ({ page, app }) => {
  // Unknown preset, a batch that is not a number, an unknown GPU; the context length is good and stays.
  await app.open('#model=no-such-model&batch=abc&gpu=no-such-gpu&seq=8192');
  const note = page.getByTestId('url-error');
  await expect(note).toBeVisible();
  expect((await note.getAttribute('data-keys')).split(' ').sort()).toEqual(['batch', 'gpu', 'model']);
  await expect(note).toContainText('no preset named "no-such-model"');
  await expect(note).toContainText('batch=abc');
  await expect(page.getByTestId('error')).toBeHidden();
  const fallback = cli('presets').default;
  await expect(page.locator('#preset-list li.selected')).toHaveAttribute('data-name', fallback);
  await expect(page.locator('#seq')).toHaveValue('8192');
  await expect(page.locator('#batch')).toHaveValue('');
  await expect(page.locator('#gpu')).toHaveValue('rtx-4090');
  expect(await shownMem(page)).toBe(cli('plan', fallback, '--seq', '8192', '--gpu', 'rtx-4090').plan.total_bytes);
  // The address now says what is shown; the next change clears the note.
  expect(page.url()).not.toContain('abc');
  await page.locator('#batch').fill('2');
  await settled(page);
  await expect(note).toBeHidden();

  // Training options and placement options that the core rejects.
  await app.open('#mode=training&zero=9&method=lora');
  await expect(note).toHaveAttribute('data-keys', 'zero');
  await expect(page.locator('#method')).toHaveValue('lora');
  await app.open('#gpu=h100-80gb&gpus=2&strategy=weird');
  await expect(note).toHaveAttribute('data-keys', 'strategy');
  await expect(page.locator('#gpus')).toHaveValue('2');
  await expect(page.getByTestId('place-card')).toBeVisible();

  // A pasted config that does not parse stays in its box, with the parser's message beside it; the preset shows.
  await app.open(`#source=config&config=${encodeURIComponent('{"model_type": "llama", "hidden')}`);
  await expect(page.getByTestId('config-input')).toHaveValue('{"model_type": "llama", "hidden');
  await expect(page.getByTestId('error')).toHaveAttribute('data-code', 'json_syntax');
  expect(await page.locator('#config-input + #error').count()).toBe(1);
  expect(await shownParams(page)).toBe(cli('params', fallback).params.total);
});

test('every input round-trips through the link: GPU count, placement, quantization, training options', async ({ page, app, browser }) => {
  const controls = ['mode', 'dtype', 'quant', 'batch', 'seq', 'kv_dtype', 'method', 'optimizer', 'recompute', 'zero', 'gpu', 'gpus', 'cpu', 'strategy'];
  const values = async (p) => Object.fromEntries(await Promise.all(controls.map(async (id) => [id, await p.locator(`#${id}`).inputValue()])));
  const other = await (await browser.newContext()).newPage();
  const cases = [
    ['llama-3.1-70b', { dtype: 'fp16', quant: 'awq-4bit-128g', batch: 3, seq: 4096, kv_dtype: 'fp8', gpu: 'a100-40gb', gpus: 2, cpu: '64GiB', strategy: 'balanced' }],
    ['qwen3-8b', { mode: 'training', method: 'qlora', optimizer: 'sgd', recompute: 'selective', zero: '2', gpus: 4, gpu: 'l40s', batch: 2, seq: 1024 }],
  ];
  for (const [model, workload] of cases) {
    await app.open();
    await choosePreset(page, model);
    await setWorkload(page, workload);
    await settled(page);
    await expect(page.getByTestId('error')).toBeHidden();
    const first = await values(page);
    await app.open(page.url(), other);
    expect(await values(other), model).toEqual(first);
    await expect(other.locator('#preset-list li.selected')).toHaveAttribute('data-name', model);
    await expect(other.getByTestId('url-error')).toBeHidden();
    for (const id of ['total-params', 'mem-total', 'fits-verdict', 'headroom'])
      expect(await other.getByTestId(id).textContent(), id).toBe(await page.getByTestId(id).textContent());
    if (workload.cpu) {
      expect(await other.getByTestId('device-map').textContent()).toBe(await page.getByTestId('device-map').textContent());
      // Placed on several devices: the GPU card's answers are the placement's (issue 17), and it says so.
      await expect(other.locator('#fit-gpu-name')).toContainText('(the placement)');
    }
  }
  await other.context().close();
});

test('keyboard: the file input, a preset, the skeleton tree', async ({ page, app }) => {
  // Playwright intercepts file pickers once a listener exists (asynchronously): set one up before any key press.
  const choosers = [];
  page.on('filechooser', (c) => choosers.push(c));
  await app.open();
  await page.getByRole('tab', { name: 'File' }).click();
  // The file picker is reachable with Tab and opens with Enter.
  await page.getByRole('tab', { name: 'File' }).focus();
  let reached = false;
  for (let i = 0; i < 5 && !reached; ++i) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.id === 'file-input');
  }
  expect(reached, 'Tab reaches the file input').toBe(true);
  // Enter opens the picker (Space too; a second key only if headless Chromium dropped the first request).
  let chooser = null;
  for (const key of ['Enter', 'Space']) {
    await page.keyboard.press(key);
    await expect.poll(() => choosers.length, { timeout: 3000 }).toBeGreaterThan(0).catch(() => {});
    chooser = choosers[0] ?? null;
    if (chooser) break;
  }
  expect(chooser, 'the keyboard opens the file picker').not.toBeNull();
  await chooser.setFiles({ name: 'config.json', mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(tinyConfig)) });
  await settled(page);
  await expect(page.getByTestId('file-status')).toContainText('config.json');

  // A preset chosen with the keyboard, then the tree opened and expanded with it.
  await page.getByRole('tab', { name: 'Preset' }).click();
  await page.getByTestId('preset-search').fill('smollm2');
  await page.getByTestId('preset-search').press('Enter');
  await settled(page);
  await expect(page.locator('#preset-list li.selected')).toHaveAttribute('data-name', 'smollm2-135m');
  await page.locator('#tree-card > summary').focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('#tree details[data-path="model"] > summary')).toBeVisible();
  await page.locator('#tree details[data-path="model"] > summary').focus();
  await page.keyboard.press('Enter');
  await page.locator('#tree details[data-path="model.layers"] > summary').focus();
  await page.keyboard.press(' ');
  await expect(page.locator('#tree details[data-path="model.layers.0"]')).toBeVisible();
  // Every input has a label.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((e) => !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.id));
  expect(unlabelled).toEqual([]);
});

// WCAG contrast of a text colour on a background, both as the page computes them.
function contrast(fg, bg) {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map((v) => Number(v) / 255)
      .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

for (const scheme of ['light', 'dark']) {
  test(`phone, ${scheme}: nothing wider than the screen, the tree and the device table usable, text contrast`, async ({ browser, app }) => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true,
      hasTouch: true, colorScheme: scheme });
    const p = await context.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    // DeepSeek-V3 on two H200s with CPU offload: long names, a wide device map, the placement bars.
    await app.open('#model=deepseek-v3&quant=q4_k_m&gpu=h200-141gb&gpus=2&cpu=512GiB', p);
    await expect(p.getByTestId('place-card')).toBeVisible();
    await p.locator('#tree-card > summary').click();
    for (const path of ['model', 'model.layers', 'model.layers.3', 'model.layers.3.mlp', 'model.layers.3.mlp.experts', 'model.layers.3.mlp.experts.0', 'model.layers.3.mlp.experts.0.down_proj'])
      await p.locator(`#tree details[data-path="${path}"] > summary`).click();
    await expect(p.locator('#tree li.leaf').first()).toBeVisible();
    expect(await p.evaluate(() => document.documentElement.scrollWidth), 'no horizontal scrolling of the page').toBeLessThanOrEqual(390);
    // Every result, tree row and device-map line ends inside the screen (or scrolls inside its own box).
    const outside = await p.evaluate(() => [...document.querySelectorAll('#app dd, #app td, #app th, #tree li, .bar-row, #place-card, #catalog li')]
      .filter((e) => e.getBoundingClientRect().right > 390.5).map((e) => e.id || e.dataset.testid || e.textContent.slice(0, 40)));
    expect(outside).toEqual([]);
    const map = await p.getByTestId('device-map').evaluate((e) => ({ overflow: getComputedStyle(e).overflowX, right: e.getBoundingClientRect().right }));
    expect(map.overflow).toBe('auto');
    expect(map.right).toBeLessThanOrEqual(390);
    // Text against what is behind it: AA (4.5:1) for body text, in this theme.
    await p.getByRole('tab', { name: 'Paste config.json' }).click();
    const pairs = await p.evaluate(() => {
      const bgOf = (e) => {
        for (let n = e; n; n = n.parentElement) {
          const c = getComputedStyle(n).backgroundColor;
          if (c && !c.endsWith(', 0)') && c !== 'transparent') return c;
        }
        return getComputedStyle(document.body).backgroundColor;
      };
      const pick = ['.source-tabs [aria-selected="true"]', '.source-tabs [aria-selected="false"]', 'label', 'small', '.sub', 'dt', 'dd',
        '.warnings li', '#fits-verdict strong', '#place-verdict', '.catalog .no-fit', '.catalog .fits', '.tree .shape', '.tree .dtype', '.foot', 'button'];
      return pick.flatMap((sel) => [...document.querySelectorAll(sel)].filter((e) => e.getClientRects().length).slice(0, 3)
        .map((e) => ({ sel, fg: getComputedStyle(e).color, bg: bgOf(e) })));
    });
    expect(pairs.length).toBeGreaterThan(15);
    for (const { sel, fg, bg } of pairs) expect(contrast(fg, bg), `${sel}: ${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
    await p.screenshot({ path: path.join(artifacts, `phone-${scheme}-placement-tree.png`), fullPage: true });
    await context.close();
    expect(errors).toEqual([]);
  });
}

test('a good input then at once a bad one: the good result is drawn whole (solves and catalog too), nothing stuck', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'qwen2.5-7b');
  await setWorkload(page, { gpu: 'a100-40gb' });
  await settled(page);
  // Two input events in one task: a batch of 8 (computed, its deferred work scheduled), then a batch of 0.
  await page.evaluate(() => {
    const batch = document.getElementById('batch');
    for (const v of ['8', '0']) {
      batch.value = v;
      batch.dispatchEvent(new Event('input', { bubbles: true }));
    }
  });
  await expect(page.getByTestId('error')).toBeVisible();
  await settled(page);
  await expect(page.getByTestId('catalog-status')).not.toContainText('computing');
  const fit = cli('fit', 'qwen2.5-7b', '--batch', '8', '--gpu', 'a100-40gb');
  expect(await shownMem(page)).toBe(fit.total_bytes);
  expect(digits(await page.getByTestId('max-seq').textContent()), 'the solve belongs to the result shown').toBe(fit.max_seq);
  const v100 = cli('plan', 'qwen2.5-7b', '--batch', '8', '--gpu', 'v100-16gb').plan.devices[0];
  await expect(page.locator('#catalog li[data-gpu="v100-16gb"]')).toHaveAttribute('data-fits', String(v100.fits));
});

test('a bad file dropped while a result is on the way: the result comes, the file message stays', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'qwen2.5-7b');
  await settled(page);
  // In one task: a click on the Preset tab (a recompute, answered later by the worker), then a text file dropped
  // (refused at once). The recompute's result arrives after the message; the message is newer and stays.
  await page.evaluate(() => {
    document.querySelector('.source-tabs [role=tab][data-source="preset"]').click();
    const dt = new DataTransfer();
    dt.items.add(new File(['hello'], 'notes.txt'));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await settled(page);
  const error = page.getByTestId('error');
  await expect(error).toBeVisible();
  await expect(error).toHaveAttribute('data-code', 'unsupported');
  await expect(error).toContainText('notes.txt');
  // The next input clears it.
  await setWorkload(page, { batch: 2 });
  await settled(page);
  await expect(error).toBeHidden();
});
