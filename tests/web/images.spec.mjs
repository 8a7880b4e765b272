// Image inputs on the page (issue 13): shown for vision-language models only, sent to the core, and their tokens
// in the KV cache. The outside reference is Qwen2VLImageProcessor's smart_resize (factor = patch 14 x merge 2 =
// 28): a 1024x768 image becomes round(1024/28)*28 x round(768/28)*28 = 1036 x 756, i.e. (1036/14) x (756/14) =
// 74 x 54 patches, merged 2 x 2 into 999 tokens. Qwen2.5-VL-7B caches 2 (K and V) x 4 KV heads x 128 x 2 bytes
// (BF16) x 28 layers = 57,344 bytes per token (its config.json: num_key_value_heads 4, hidden_size 3584 / 28
// heads, num_hidden_layers 28). Every other figure is the native program's for the same workload.
import { test, expect, cli, choosePreset, setWorkload, settled, digits, artifacts } from './helpers.mjs';
import path from 'node:path';

const vl = 'qwen2.5-vl-7b-instruct';

test('image inputs: shown for a vision-language model, their tokens in the KV cache as the processor counts them', async ({ page, app }) => {
  await app.open();
  await choosePreset(page, 'llama-3.2-1b');
  await settled(page);
  await expect(page.getByTestId('images')).toBeHidden();

  await choosePreset(page, vl);
  await settled(page);
  await expect(page.getByTestId('images')).toBeVisible();
  await setWorkload(page, { images: 2, image_size: '1024x768', batch: 3 });
  await settled(page);
  await expect(page.getByTestId('error')).toBeHidden();

  const kv = digits(await page.getByTestId('mem-kv').textContent());
  expect(kv).toBe(3 * (4096 + 2 * 999) * 57344);
  const plan = cli('plan', vl, '--images', '2', '--image-size', '1024x768', '--batch', '3', '--gpu', 'rtx-4090').plan;
  expect(plan.images.tokens_per_image).toBe(999);
  expect(digits(await page.getByTestId('mem-total').locator('.exact').textContent())).toBe(plan.total_bytes);
  const vision = plan.items.find((i) => i.name === 'vision_activations');
  expect(digits(await page.getByTestId('mem-vision-activations').textContent())).toBe(vision.bytes);
  await expect(page.locator('#bars .seg.item-vision_activations')).toHaveCount(1);
  await expect(page.getByTestId('values-in-use')).toContainText('2 images of 1024x768 = 999 tokens each');
  await page.locator('#workload').screenshot({ path: path.join(artifacts, 'images-workload.png') });

  // The default size, said as such.
  await setWorkload(page, { image_size: '' });
  await settled(page);
  const byDefault = cli('plan', vl, '--images', '2', '--batch', '3').plan;
  await expect(page.getByTestId('values-in-use')).toContainText(
    `2 images of 1024x1024 (default) = ${byDefault.images.tokens_per_image.toLocaleString('en-US')} tokens each`);

  // A bad size is an error next to its input; the last good result stays.
  await setWorkload(page, { image_size: '1024' });
  await settled(page);
  await expect(page.getByTestId('error')).toBeVisible();
  await expect(page.getByTestId('error')).toContainText('image_size');
  await expect(page.getByTestId('image-size')).toHaveClass(/invalid/);
  await setWorkload(page, { image_size: '1024x768' });
  await settled(page);
  await expect(page.getByTestId('error')).toBeHidden();

  // A text-only model: the inputs hide and are not sent (no error), and the KV cache is text only.
  await choosePreset(page, 'llama-3.2-1b');
  await settled(page);
  await expect(page.getByTestId('images')).toBeHidden();
  await expect(page.getByTestId('error')).toBeHidden();
  const text = cli('plan', 'llama-3.2-1b', '--batch', '3').plan;
  expect(digits(await page.getByTestId('mem-kv').textContent())).toBe(text.items.find((i) => i.name === 'kv_cache').bytes);
});
