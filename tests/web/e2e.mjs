// Drives Loupe's web page in Debian's headless Chromium with playwright-core.
// Usage: node e2e.mjs BASE_URL EXAMPLE_IMAGE SCREENSHOT_DIR
// Run by tests/web.rs against a real `loupe serve` over a real index; exits non-zero on failure.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const [base, exampleImage, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text()); });
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  page.setDefaultTimeout(20000);
  await page.goto(base);
  assert.equal(await page.title(), "Loupe");

  const firstName = () => page.locator(".hit .name").first().textContent();
  const searchFor = async (text, kind) => {
    await page.fill("#q", text);
    await page.selectOption("#kind", kind);
    await page.press("#q", "Enter");
    await page.waitForFunction(() => /hits? in/.test(document.querySelector("#info").textContent));
  };

  // Text search: a grid of thumbnails with visible scores.
  await searchFor("red", "image");
  assert.equal(await firstName(), "red_apple.jpg");
  assert.match(await page.locator(".hit .score").first().textContent(), /^score \d/);
  await page.waitForFunction(() => {
    const img = document.querySelector(".hit .pic img");
    return img && img.complete && img.naturalWidth > 0;
  });
  console.log("text search: ok");

  // Find similar on a hit.
  await page.locator(".hit .similar").first().click();
  await page.waitForFunction(() => document.querySelector("#example").style.display === "flex");
  await page.waitForFunction(() => /hits? in/.test(document.querySelector("#info").textContent));
  assert.equal(await firstName(), "red_apple.jpg");
  console.log("find similar: ok");

  // An image picked from disk (the same path as a dropped one).
  await page.click("#clear-image");
  await page.fill("#q", "");
  await page.setInputFiles("#image", exampleImage);
  await page.waitForFunction(() => /hits? in/.test(document.querySelector("#info").textContent)
    && document.querySelector(".hit .name")?.textContent === "blue_sky.png");
  console.log("search by image: ok");
  await page.click("#clear-image");

  // A document page with the matched words highlighted on it.
  await searchFor("invoice total 518", "document");
  assert.equal(await firstName(), "invoice.pdf");
  assert.equal(await page.locator(".hit .badge").first().textContent(), "page 1");
  assert.ok((await page.locator(".hit mark").count()) >= 1, "highlighted snippet");
  await page.locator(".hit .open").first().click();
  await page.waitForSelector("#viewer.open .page img");
  await page.waitForFunction(() => document.querySelector("#viewer .page img").naturalWidth > 0);
  const boxes = await page.locator("#viewer .page .box").evaluateAll((els) => els.map((e) => e.title));
  assert.ok(boxes.includes("518"), `boxes ${boxes}`);
  await page.screenshot({ path: `${shots}/document.png` });
  await page.click("#viewer .close");
  console.log("document page view: ok");

  // A video opens at the moment.
  await searchFor("green", "video");
  assert.equal(await firstName(), "colours.webm");
  await page.locator(".hit .open").first().click();
  await page.waitForSelector("#viewer.open video");
  await page.waitForFunction(() => {
    const v = document.querySelector("#viewer video");
    return v.readyState >= 1 && v.currentTime >= 5.5;
  });
  const t = await page.evaluate(() => document.querySelector("#viewer video").currentTime);
  assert.ok(t >= 5.5 && t < 8.5, `video at ${t} s (green starts at 6 s)`);
  await page.screenshot({ path: `${shots}/video.png` });
  await page.click("#viewer .close");
  console.log("video at the moment: ok");

  // Ask: the answer streams in with its sources; a source opens the page with the quoted words.
  await page.selectOption("#kind", "");
  await page.selectOption("#answerer", "extractive");
  await page.fill("#q", "What is the invoice total?");
  await page.click("#ask");
  await page.waitForFunction(() => document.querySelector("#answer .who").textContent.startsWith("extractive"));
  assert.match(await page.locator("#answer .text").textContent(), /518 EUR \[1\]/);
  assert.equal(await page.locator("#answer li.cited").count(), 1);
  await page.locator("#answer li.cited a").click();
  await page.waitForSelector("#viewer.open .page img");
  const quoted = await page.locator("#viewer .page .box").evaluateAll((els) => els.map((e) => e.title));
  assert.ok(quoted.includes("518"), `quoted boxes ${quoted}`);
  await page.screenshot({ path: `${shots}/answer.png` });
  await page.click("#viewer .close");
  await page.fill("#q", "What is the capital of Mongolia?");
  await page.click("#ask");
  await page.waitForFunction(() => document.querySelector("#answer .text.notfound"));
  assert.equal(await page.locator("#answer .text").textContent(), "Not found in the library.");
  console.log("ask with sources: ok");

  // Filters and date sort keep working together.
  await searchFor("blue", "");
  const n = await page.locator(".hit").count();
  assert.ok(n >= 3, `${n} hits`);
  await page.selectOption("#sort", "date");
  assert.equal(await page.locator(".hit").count(), n);
  await page.screenshot({ path: `${shots}/grid.png` });
  console.log("filters and sort: ok");

  assert.deepEqual(errors, [], "no errors in the page");
} finally {
  await browser.close();
}
console.log("web page: all checks passed");
