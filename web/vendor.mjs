// The web front's vendored scripts: copied from node_modules (package-lock.json pins them)
// into web/static/vendor/ with a SHA-256 manifest, so the pages load nothing from elsewhere
// and need no build step.
//   node web/vendor.mjs           copy them again and rewrite the manifest (after an upgrade)
//   node web/vendor.mjs --check   fail unless each committed file is byte for byte the npm
//                                 package's and matches the manifest (CI, after `npm ci`)
import { createHash } from "node:crypto";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const vendor = join(root, "web", "static", "vendor");
const manifestPath = join(vendor, "manifest.json");
const FILES = {
  "htmx.min.js": { package: "htmx.org", path: "dist/htmx.min.js" },
  "ws.min.js": { package: "htmx-ext-ws", path: "dist/ws.min.js" },
};

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const packageVersion = (name) =>
  JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"))).version;

if (process.argv.includes("--check")) {
  const manifest = JSON.parse(readFileSync(manifestPath));
  const problems = [];
  for (const [file, source] of Object.entries(FILES)) {
    const entry = manifest[file];
    const committed = readFileSync(join(vendor, file));
    const published = readFileSync(join(root, "node_modules", source.package, source.path));
    if (!entry) problems.push(`${file}: not in manifest.json`);
    else {
      if (sha256(committed) !== entry.sha256) problems.push(`${file}: its SHA-256 is not the manifest's`);
      if (entry.version !== packageVersion(source.package))
        problems.push(`${file}: manifest says ${source.package} ${entry.version}, node_modules has ${packageVersion(source.package)}`);
    }
    if (!committed.equals(published)) problems.push(`${file}: differs from ${source.package}/${source.path}`);
  }
  if (problems.length) {
    console.error(problems.join("\n") + "\nrun `node web/vendor.mjs` after `npm ci` and commit the result");
    process.exit(1);
  }
  console.log(`web/static/vendor: ${Object.keys(FILES).length} files match their npm packages`);
} else {
  const manifest = {};
  for (const [file, source] of Object.entries(FILES)) {
    copyFileSync(join(root, "node_modules", source.package, source.path), join(vendor, file));
    manifest[file] = { package: source.package, version: packageVersion(source.package),
                       from: source.path, sha256: sha256(readFileSync(join(vendor, file))) };
  }
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  console.log(`web/static/vendor: ${Object.keys(FILES).join(", ")} copied`);
}
