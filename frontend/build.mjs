// Build the three front ends into src/cityops/web/static/dist (git-ignored), served by cityops.web.
// Output: content-hashed bundles, HTML pages with the hashed URLs filled in, a service worker that
// precaches the citizen app shell, and manifest.json (entry -> files, with byte sizes).
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { brotliCompressSync, constants as zc, gzipSync } from "node:zlib";
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "cityops", "web", "static", "dist");
const publicPath = "/static/dist";
const apps = { citizen: "src/citizen/main.js", officer: "src/officer/main.js", ioc: "src/ioc/main.js" };

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: Object.fromEntries(Object.entries(apps).map(([k, v]) => [k, join(here, v)])),
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "esm",
  splitting: true, // Leaflet loads only with the citizen views that show a map
  chunkNames: "chunks/[name]-[hash]",
  target: ["es2020", "chrome90", "firefox90", "safari14"],
  outdir: out,
  entryNames: "[name]-[hash]",
  assetNames: "assets/[name]-[hash]",
  publicPath,
  loader: { ".png": "file", ".svg": "file" },
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const manifest = { apps: {}, files: {} };
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  const rel = relative(out, join(here, file)).split("\\").join("/");
  manifest.files[rel] = statSync(join(here, file)).size;
  if (info.entryPoint) {
    const name = Object.keys(apps).find((k) => join(here, apps[k]) === join(here, info.entryPoint));
    if (name) manifest.apps[name] = { js: rel, css: info.cssBundle ? relative(out, join(here, info.cssBundle)) : null };
  }
}

// Icons (drawn by hand as SVG) are copied as they are.
mkdirSync(join(out, "icons"), { recursive: true });
for (const f of readdirSync(join(here, "icons"))) cpSync(join(here, "icons", f), join(out, "icons", f));

// The API docs pages (/docs, /redoc) load Swagger UI and ReDoc from here, never from a CDN: the files
// of the npm packages, content-hashed like the bundles, named in manifest.apidocs for cityops.apidocs.
manifest.apidocs = {};
mkdirSync(join(out, "apidocs"), { recursive: true });
const apidocs = {
  swagger_js: "swagger-ui-dist/swagger-ui-bundle.js",
  swagger_css: "swagger-ui-dist/swagger-ui.css",
  favicon: "swagger-ui-dist/favicon-32x32.png",
  redoc_js: "redoc/bundles/redoc.standalone.js",
};
for (const [key, file] of Object.entries(apidocs)) {
  const raw = readFileSync(join(here, "node_modules", file));
  const name = file.split("/").pop().replace(/\.(\w+)$/, `-${createHash("sha256").update(raw).digest("hex").slice(0, 8).toUpperCase()}.$1`);
  writeFileSync(join(out, "apidocs", name), raw);
  manifest.apidocs[key] = `apidocs/${name}`;
  manifest.files[`apidocs/${name}`] = raw.length;
}

// Pages: templates with {{js}} / {{css}} filled in.
const pages = { citizen: "citizen.html", officer: "officer.html", ioc: "ioc.html" };
for (const [app, tpl] of Object.entries(pages)) {
  const { js, css } = manifest.apps[app];
  const html = readFileSync(join(here, "templates", tpl), "utf8")
    .replaceAll("{{js}}", `${publicPath}/${js}`)
    .replaceAll("{{css}}", css ? `${publicPath}/${css}` : "");
  writeFileSync(join(out, tpl), html);
}

// Every chunk an app may load (static and dynamic imports), for the service worker's precache.
function reachable(rel, seen = new Set()) {
  if (seen.has(rel)) return seen;
  seen.add(rel);
  const key = Object.keys(result.metafile.outputs).find((f) => relative(out, join(here, f)).split("\\").join("/") === rel);
  for (const imp of result.metafile.outputs[key]?.imports || []) {
    if (imp.external) continue;
    reachable(relative(out, join(here, imp.path)).split("\\").join("/"), seen);
  }
  return seen;
}
for (const app of Object.values(manifest.apps)) app.chunks = [...reachable(app.js)].filter((f) => f !== app.js);

// Service worker: precaches the citizen shell; its version changes whenever a shell file does.
const shell = ["/", `${publicPath}/${manifest.apps.citizen.js}`, `${publicPath}/${manifest.apps.citizen.css}`,
  ...manifest.apps.citizen.chunks.map((c) => `${publicPath}/${c}`),
  "/manifest.webmanifest", `${publicPath}/icons/icon.svg`];
const version = createHash("sha256").update(JSON.stringify(shell) + readFileSync(join(out, "citizen.html"))).digest("hex").slice(0, 12);
await esbuild.build({
  absWorkingDir: here,
  entryPoints: [join(here, "src", "sw.js")],
  bundle: true,
  minify: true,
  format: "iife",
  outfile: join(out, "sw.js"),
  define: { __SHELL__: JSON.stringify(shell), __VERSION__: JSON.stringify(version) },
  logLevel: "warning",
});
manifest.sw = { version, shell };
// Precompressed copies (brotli and gzip) of text assets, served when the browser accepts them.
manifest.compressed = {};
for (const rel of Object.keys(manifest.files).concat(["sw.js"], readdirSync(join(out, "icons")).map((f) => `icons/${f}`))) {
  if (!/\.(js|css|svg)$/.test(rel)) continue;
  const raw = readFileSync(join(out, rel));
  const br = brotliCompressSync(raw, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: raw.length } });
  const gz = gzipSync(raw, { level: 9 });
  writeFileSync(join(out, `${rel}.br`), br);
  writeFileSync(join(out, `${rel}.gz`), gz);
  manifest.compressed[rel] = { raw: raw.length, br: br.length, gzip: gz.length };
}
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2));
const kb = (n) => (n / 1024).toFixed(1) + " KiB";
for (const [app, f] of Object.entries(manifest.apps)) {
  const c = manifest.compressed;
  console.log(`${app}: js ${kb(c[f.js].raw)} (br ${kb(c[f.js].br)}), css ${kb(c[f.css].raw)} (br ${kb(c[f.css].br)})`);
}
