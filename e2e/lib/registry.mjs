// The demo's registry as `fenhe registry export --format json --include-secrets` prints it
// (devices with their passwords, outlets with their limits), read from the running demo's database.
import { execFileSync } from "node:child_process";
import { binary } from "./fenhe.mjs";

export function exportRegistry(db) {
  const out = execFileSync(binary(), ["registry", "export", "--format", "json", "--include-secrets", "--db", db], {
    encoding: "utf8",
    env: { ...process.env, RUST_LOG: "warn" },
  });
  return JSON.parse(out);
}

/** A flue-gas device speaking HJ 212-2017 that measures SO2 against a limit, with its outlet. */
export function so2Device(registry) {
  for (const d of registry.devices) {
    const outlet = registry.outlets.find((o) => o.id === d.outlet);
    const limit = outlet?.limits?.filter((l) => l.factor === "a21026" && l.max != null).at(-1);
    if (outlet && limit && (d.protocol ?? "2017") === "2017" && d.factors?.includes("a21026")) {
      return { device: d, outlet, limit: limit.max };
    }
  }
  throw new Error("the demo registry has no 2017 flue-gas device measuring SO2");
}
