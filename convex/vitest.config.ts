import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The Convex runtime is not Node; edge-runtime is the closest stand-in and
    // catches use of Node-only APIs in functions.
    environment: "edge-runtime",
    include: ["tests/**/*.test.ts"],
    server: { deps: { inline: ["convex-test"] } },
  },
});
