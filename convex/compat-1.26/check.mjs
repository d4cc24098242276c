#!/usr/bin/env node
// Typechecks the worker's functions against the web app's pinned convex (1.26.2), as
// they will be built on its project: the functions directory is copied to a scratch
// project laid out like the web's (convex/ next to package.json), 1.26.2's own codegen
// writes _generated/ (offline: `codegen --typecheck disable` needs no deployment),
// and tsc checks every module strictly. Then every function module is bundled by the
// esbuild that 1.26.2 deploys with, as its deploy does (ESM for Convex's runtime), so
// an import its bundler cannot take (lib/shared.json is one it must) fails here.
// `make convex-test` runs it.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const FUNCTIONS = join(HERE, "..", "functions");
const BIN = join(HERE, "node_modules", ".bin");

const project = mkdtempSync(join(tmpdir(), "convex-1.26-"));
try {
  const convexDir = join(project, "convex");
  cpSync(FUNCTIONS, convexDir, {
    recursive: true,
    filter: (src) => !src.includes("_generated"),
  });
  symlinkSync(join(HERE, "node_modules"), join(project, "node_modules"), "dir");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "web", type: "module", dependencies: { convex: "1.26.2" } }));
  const run = (cmd, args) =>
    execFileSync(join(BIN, cmd), args, { cwd: project, stdio: "inherit", env: cleanEnv() });
  run("convex", ["codegen", "--typecheck", "disable"]);
  writeFileSync(
    join(convexDir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ESNext",
        lib: ["ES2021", "dom"],
        module: "ESNext",
        moduleResolution: "Bundler",
        types: ["node"],
        strict: true,
        noUncheckedIndexedAccess: true,
        isolatedModules: true,
        skipLibCheck: true,
        // lib/shared.json is imported; tsc needs this to read it (esbuild, which
        // bundles the deploy, imports JSON as it is).
        resolveJsonModule: true,
        noEmit: true,
        typeRoots: [join(HERE, "node_modules", "@types")],
      },
      include: ["./**/*"],
    }),
  );
  run("tsc", ["-p", join(convexDir, "tsconfig.json")]);
  await bundle(convexDir);
  const version = execFileSync(join(BIN, "convex"), ["--version"], { env: cleanEnv() });
  process.stdout.write(`worker functions typecheck and bundle with convex ${String(version).trim()}\n`);
} finally {
  rmSync(project, { recursive: true, force: true });
}

// The deploy's entry points are the .ts modules outside _generated/ and other than
// schema.ts; what they import (JSON included) is bundled into them.
async function bundle(convexDir) {
  const esbuild = createRequire(join(HERE, "package.json"))("esbuild");
  const entries = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== "_generated") walk(path);
      } else if (name.endsWith(".ts") && name !== "schema.ts") {
        entries.push(path);
      }
    }
  };
  walk(convexDir);
  await esbuild.build({
    entryPoints: entries,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "esnext",
    outdir: join(convexDir, "..", "out"),
    outbase: convexDir,
    conditions: ["convex", "module"],
    write: false,
    splitting: true,
    logLevel: "warning",
  });
}

// No deployment settings reach codegen: it must work offline, as on a fresh clone.
function cleanEnv() {
  const env = { ...process.env };
  for (const name of ["CONVEX_DEPLOYMENT", "CONVEX_DEPLOY_KEY", "CONVEX_URL"]) delete env[name];
  return env;
}
