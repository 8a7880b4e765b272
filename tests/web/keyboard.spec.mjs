// Issue 17, item 8: keyboard, screen reader, phone. The preset list is one listbox (one Tab stop, arrow keys);
// every control shows a 2 px focus ring unlike the selection's fill; one live one-line summary instead of the
// whole results section; on a phone that summary is a sticky line at the top. Expected numbers come from the
// native program (`modelplan ... --json`).
import { test, expect, cli, settled, artifacts } from './helpers.mjs';
import path from 'node:path';

const inGib = (bytes) => (bytes / 2 ** 30).toFixed(2);
const gib = (bytes) => `${inGib(bytes)} GiB`;
const active = (page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);

/** Presses Tab until `id` has the focus; returns how many presses it took (or Infinity past `limit`). */
async function tabsTo(page, id, limit = 300) {
  for (let n = 1; n <= limit; ++n) {
    await page.keyboard.press('Tab');
    if (await active(page) === id) return n;
  }
  return Infinity;
}

// Tab from the top again: a click on the title (plain text) moves the focus starting point there.
const fromTop = (page) => page.locator('h1').click();

// The focusable, visible controls, as the browser's Tab order should list them: a tab list and a list box count
// once (one Tab stop each; their own items are reached with the arrow keys); a box that scrolls and holds no
// control is a stop too (Chromium's keyboard-focusable scrollers: the arrow keys scroll it).
async function visibleControls(page) {
  const controls = 'a[href], button, input, select, textarea, summary, [tabindex]';
  return page.evaluate((controls) => [...document.querySelectorAll('header *, main *')]
    .filter((n) => {
      const s = getComputedStyle(n);
      const scroller = /auto|scroll/.test(s.overflowY + s.overflowX) && !n.querySelector(controls)
        && (n.scrollHeight > n.clientHeight || n.scrollWidth > n.clientWidth);
      return ((n.matches(controls) && n.tabIndex >= 0 && !n.disabled) || scroller)
        && n.checkVisibility({ visibilityProperty: true }) && n.getAttribute('role') !== 'tab';
    })
    .map((n) => n.id || n.dataset.testid || n.textContent.trim().slice(0, 30))
    .concat(document.querySelectorAll('[role=tablist]').length ? ['tablist'] : []), controls);
}

test('keyboard only: one Tab stop for the presets, arrow keys, Enter picks, every control reached with a ring', async ({ app, page }) => {
  await app.open();
  const presetCount = cli('presets').presets.length;
  // Before the workload: the header's buttons, one stop for the source tabs, the search box and the list, then
  // the Hub id's input, its Fetch button and its "Endpoint and token" summary.
  const headerButtons = await page.locator('header button').count();
  const bound = headerButtons + 1 + 1 + 1 + 3 + 1; // ... and the press that lands on the first workload control
  const toWorkload = await tabsTo(page, 'mode');
  expect(toWorkload).toBeLessThanOrEqual(bound);
  expect(toWorkload).toBeLessThan(presetCount); // not one stop per preset

  // Every visible control, each reached exactly once in one round of Tab, each with a 2 px ring when reached.
  await fromTop(page);
  const expected = await visibleControls(page);
  const reached = [];
  for (let n = 0; n < expected.length + 10; ++n) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      const s = getComputedStyle(e);
      return { id: e.getAttribute('role') === 'tab' ? 'tablist' : e.id || e.dataset.testid || e.textContent.trim().slice(0, 30),
        width: s.outlineWidth, style: s.outlineStyle };
    });
    if (!f || reached.some((r) => r.id === f.id)) break;
    reached.push(f);
    expect.soft(f.style, `${f.id} shows a focus ring`).toBe('solid');
    expect.soft(f.width, `${f.id}'s focus ring is 2 px`).toBe('2px');
  }
  expect(reached.map((r) => r.id).sort()).toEqual([...expected].sort());

  // The presets with the keyboard: type into the search, Down into the list, arrows move, Enter picks.
  await fromTop(page);
  await tabsTo(page, 'preset-search');
  await page.keyboard.type('qwen');
  const list = page.getByTestId('preset-list');
  const names = await list.locator('[role=option]').evaluateAll((os) => os.map((o) => o.dataset.name));
  expect(names.length).toBeGreaterThan(2);
  // The options are the native program's presets, in its order.
  const native = cli('presets').presets.map((p) => p.name);
  expect(names).toEqual(native.filter((n) => names.includes(n)));
  const activeName = () => list.evaluate((l) => document.getElementById(l.getAttribute('aria-activedescendant'))?.dataset.name);
  await page.keyboard.press('ArrowDown');
  expect(await active(page)).toBe('preset-list');
  expect(await activeName()).toBe(names[0]);
  await page.keyboard.press('ArrowDown');
  expect(await activeName()).toBe(names[1]);
  await page.keyboard.press('End');
  expect(await activeName()).toBe(names.at(-1));
  await page.keyboard.press('Home');
  expect(await activeName()).toBe(names[0]);
  await page.keyboard.press('ArrowUp'); // above the first: back to the search box
  expect(await active(page)).toBe('preset-search');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  expect(await activeName()).toBe(names[2]);
  // Moving is not choosing: the model is unchanged until Enter.
  const before = await page.getByTestId('model-title').textContent();
  expect(before).toBe(cli('params').model); // the default preset
  expect(names[2]).not.toBe(before);
  await page.keyboard.press('Enter');
  await settled(page);
  await expect(page.getByTestId('model-title')).toHaveText(cli('params', names[2]).model);
  await expect(list.locator('[aria-selected=true]')).toHaveAttribute('data-name', names[2]);
  await expect(list.locator('[aria-selected=true]')).toHaveCount(1);
  expect(await active(page)).toBe('preset-list'); // the focus stays on the list
  // Space picks too.
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press(' ');
  await settled(page);
  await expect(page.getByTestId('model-title')).toHaveText(cli('params', names[3]).model);
  await page.screenshot({ path: path.join(artifacts, 'keyboard-after-focus.png') });
  // One Tab from the list leaves it, to the Hub id's input below it.
  await page.keyboard.press('Tab');
  expect(await active(page)).toBe('hub-id');

  // The source tabs: one stop, Left / Right open the neighbouring tab.
  await fromTop(page);
  await tabsTo(page, 'tab-preset');
  await page.keyboard.press('ArrowRight');
  expect(await active(page)).toBe('tab-config');
  await expect(page.locator('#tab-config')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('config-input')).toBeVisible();
  await page.keyboard.press('ArrowLeft');
  await expect(page.locator('#tab-preset')).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('preset-search')).toBeVisible();
});

test('the focus ring is 2 px and unlike the selected style', async ({ app, page }) => {
  await app.open('#model=qwen2.5-7b');
  await tabsTo(page, 'preset-list');
  await page.keyboard.press('ArrowDown'); // the option after the chosen one: active, not selected
  const styles = await page.evaluate(() => {
    const list = document.getElementById('preset-list');
    const pick = (n) => { const s = getComputedStyle(n); return { outlineWidth: s.outlineWidth, outlineStyle: s.outlineStyle, background: s.backgroundColor }; };
    const activeOption = document.getElementById(list.getAttribute('aria-activedescendant'));
    const plain = [...list.querySelectorAll('[role=option]')].find((o) => o !== activeOption && o.getAttribute('aria-selected') !== 'true');
    const tab = document.getElementById('tab-preset'); // selected, not focused
    return { list: pick(list), active: pick(activeOption), selected: pick(list.querySelector('[aria-selected=true]')),
      plain: pick(plain), selectedTab: pick(tab), activeIsSelected: activeOption.getAttribute('aria-selected') };
  });
  expect(styles.activeIsSelected).toBe('false');
  // The focused list and its active option: a 2 px ring.
  expect(styles.list).toMatchObject({ outlineWidth: '2px', outlineStyle: 'solid' });
  expect(styles.active.outlineWidth).toBe('2px');
  expect(styles.active.outlineStyle).not.toBe('none');
  // The selection: a fill and no ring.
  expect(styles.selected.outlineStyle).toBe('none');
  expect(styles.selected.background).not.toBe(styles.plain.background);
  expect(styles.active.background).not.toBe(styles.selected.background);
  expect(styles.selectedTab.outlineStyle).toBe('none');
  // The selected tab, focused: its fill plus the ring.
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  expect(await active(page)).toBe('tab-preset');
  const focusedTab = await page.locator('#tab-preset').evaluate((n) => {
    const s = getComputedStyle(n);
    return { outlineWidth: s.outlineWidth, outlineStyle: s.outlineStyle, background: s.backgroundColor };
  });
  expect(focusedTab).toEqual({ outlineWidth: '2px', outlineStyle: 'solid', background: styles.selectedTab.background });
});

test('one live region for the results: a one-line summary, rewritten only when it changes', async ({ app, page }) => {
  await app.open('#model=llama-3.1-8b&gpu=rtx-4090');
  // Explicit or implicit live regions: the summary, the file tab's status line and the error alerts; none of
  // them holds the results section.
  const live = await page.evaluate(() => [...document.querySelectorAll('[aria-live], [role=status], [role=alert], [role=log]')]
    .map((n) => ({ id: n.id, live: n.getAttribute('aria-live'), holdsResults: !!n.querySelector('.results') || !!n.closest('.results') })));
  expect(live.map((l) => l.id).sort()).toEqual(['error', 'file-status', 'url-error', 'verdict-line']);
  expect(live.filter((l) => l.holdsResults)).toEqual([]);
  expect(await page.locator('[aria-live]').evaluateAll((ns) => ns.map((n) => n.id))).toEqual(['verdict-line', 'file-status']);
  expect(await page.locator('.results').getAttribute('aria-live')).toBeNull();
  // The numbers are the native program's.
  const line = page.getByTestId('verdict-line');
  const plan = cli('plan', 'llama-3.1-8b', '--gpu', 'rtx-4090').plan;
  const d = plan.devices[0];
  expect(d.fits).toBe(true);
  const text = await line.textContent();
  expect(text).not.toContain('\n');
  expect(text).toBe(`fits on 1 x RTX 4090: ${inGib(plan.total_bytes)} of ${gib(d.memory_bytes)}`);
  expect(cli('gpus').gpus.find((g) => g.key === 'rtx-4090').name).toContain('RTX 4090');
  await expect(line).toHaveAttribute('data-fits', 'true');
  // A keystroke that changes no number rewrites nothing (nothing is announced); one that does, rewrites the line.
  await line.evaluate((n) => {
    window.__summaryMutations = 0;
    new MutationObserver((m) => { window.__summaryMutations += m.length; }).observe(n, { childList: true, subtree: true, characterData: true });
  });
  await page.locator('#batch').fill('1');
  await settled(page);
  expect(await page.evaluate(() => window.__summaryMutations)).toBe(0);
  await page.locator('#batch').fill('64');
  await page.locator('#seq').fill('32768');
  await settled(page);
  const big = cli('plan', 'llama-3.1-8b', '--gpu', 'rtx-4090', '--batch', '64', '--seq', '32768').plan;
  expect(big.devices[0].fits).toBe(false);
  await expect(line).toHaveText(`does not fit on 1 x RTX 4090: ${inGib(big.total_bytes)} of ${gib(big.devices[0].memory_bytes)}`);
  await expect(line).toHaveAttribute('data-fits', 'false');
  expect(await page.evaluate(() => window.__summaryMutations)).toBeGreaterThan(0);
});

test('the summary follows the placement on several GPUs', async ({ app, page }) => {
  await app.open('#model=llama-3.1-70b&quant=q4_k_m&gpu=rtx-4090&gpus=2');
  const placed = cli('place', 'llama-3.1-70b', '--quant', 'q4_k_m', '--gpu', 'rtx-4090', '--gpus', '2');
  const gpus = placed.devices.filter((d) => d.kind === 'gpu');
  expect(gpus.length).toBe(2);
  const used = gpus.reduce((s, d) => s + d.total_bytes, 0);
  const budget = gpus.reduce((s, d) => s + d.budget_bytes, 0);
  await expect(page.getByTestId('verdict-line')).toHaveText(
    `${placed.fits ? 'fits' : 'does not fit'} on 2 x RTX 4090: ${inGib(used)} of ${gib(budget)}${
      placed.unplaced_bytes ? `, ${gib(placed.unplaced_bytes)} without a place` : ''}`);
});

test('the summary of a training plan on several GPUs is one GPU\'s share', async ({ app, page }) => {
  await app.open('#model=gemma-3-4b&mode=training&recompute=full&zero=3&gpus=4&gpu=l40s');
  const plan = cli('plan', 'gemma-3-4b', '--mode', 'training', '--recompute', 'full', '--zero', '3', '--gpus', '4', '--gpu', 'l40s').plan;
  const d = plan.devices[0];
  expect(cli('gpus').gpus.find((g) => g.key === 'l40s').name).toContain('L40S');
  await expect(page.getByTestId('verdict-line')).toHaveText(
    `${d.fits ? 'fits' : 'does not fit'} on each of 4 x L40S: ${inGib(plan.total_bytes)} of ${gib(d.memory_bytes)}`);
});

test('phone (390x844): the verdict is a sticky line on the first screen', async ({ app, page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await app.open('#model=llama-3.1-8b&gpu=rtx-4090');
  const bar = page.getByTestId('verdict-bar');
  const line = page.getByTestId('verdict-line');
  await expect(line).toBeVisible();
  const plan = cli('plan', 'llama-3.1-8b', '--gpu', 'rtx-4090').plan;
  await expect(line).toContainText(`${inGib(plan.total_bytes)} of ${gib(plan.devices[0].memory_bytes)}`);
  await expect(page.getByTestId('verdict-model')).toHaveText(cli('params', 'llama-3.1-8b').model);
  const box = await line.boundingBox();
  expect(box.y).toBeGreaterThanOrEqual(0);
  expect(box.y + box.height).toBeLessThan(844);
  // One line: no taller than one line box.
  const lineHeight = await line.evaluate((n) => parseFloat(getComputedStyle(n).lineHeight));
  expect(box.height).toBeLessThan(lineHeight * 1.5);
  // ... and all of it shown, not cut with an ellipsis.
  expect(await line.evaluate((n) => n.scrollWidth <= n.clientWidth)).toBe(true);
  expect(await bar.evaluate((n) => getComputedStyle(n).position)).toBe('sticky');
  await page.screenshot({ path: path.join(artifacts, 'keyboard-after-phone.png') });
  // Scrolled down to the results, the line is still at the top of the screen.
  await page.getByTestId('catalog').scrollIntoViewIfNeeded();
  const scrolled = await page.evaluate(() => window.scrollY);
  expect(scrolled).toBeGreaterThan(844);
  const after = await line.boundingBox();
  expect(after.y).toBeGreaterThanOrEqual(0);
  expect(after.y + after.height).toBeLessThan(100);
  await page.screenshot({ path: path.join(artifacts, 'keyboard-after-phone-scrolled.png') });
  // Nothing wider than the screen.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  // On a laptop the line is for screen readers only: the verdict is in the results' first card.
  await page.setViewportSize({ width: 1280, height: 900 });
  expect((await bar.boundingBox()).height).toBeLessThanOrEqual(1);
});
