// Build the front-end assets into placements/static/dist/.
//
//   npm run build          compile Sass, copy JavaScript and images
//   npm run clean          remove placements/static/dist/
//
// No bundler: our app.js is a plain ES module that imports govuk-frontend's
// ES module build, and loads Chart.js (UMD) only on pages with a chart.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "assets-src");
const modules = join(root, "node_modules");
const dist = join(root, "placements", "static", "dist");

if (process.argv.includes("--clean")) {
  rmSync(dist, { recursive: true, force: true });
  process.exit(0);
}
// Files are overwritten in place (not rm -rf first) so a running dev server
// never sees the folder missing.
mkdirSync(join(dist, "images"), { recursive: true });

const copy = (from, to) => {
  mkdirSync(dirname(join(dist, to)), { recursive: true });
  copyFileSync(from, join(dist, to));
  console.log(`  ${to}`);
};

console.log("Compiling Sass -> app.css");
const css = sass.compile(join(src, "scss", "app.scss"), {
  loadPaths: [join(modules, "govuk-frontend", "dist")],
  style: "compressed",
  sourceMap: false,
  quietDeps: true,
});
// Not a GOV.UK service: no GDS Transport. (The footer's crest rule is
// still compiled, but our footer never uses that class and we ship no crest.)
if (/GDS Transport|@font-face/.test(css.css)) {
  throw new Error("app.css must not use the GDS Transport font");
}
writeFileSync(join(dist, "app.css"), css.css);
console.log("  app.css");

console.log("Copying JavaScript and images");
copy(join(src, "js", "app.js"), "app.js");
copy(join(modules, "govuk-frontend", "dist", "govuk", "govuk-frontend.min.js"),
  "govuk-frontend.min.js");
copy(join(modules, "chart.js", "dist", "chart.umd.min.js"), "chart.umd.min.js");
copy(join(src, "images", "favicon.svg"), "images/favicon.svg");
console.log(`Done: ${dist}`);
