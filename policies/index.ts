// The CrossGuard pack served to the Pulumi CLI:
//   pulumi preview --stack lab --policy-pack policies --policy-pack-config policies/lab.json
// Enforcement levels and thresholds are policy config (each policy's configSchema); the
// offline plan (npm run plan) applies the same list from ./pack with the same config.
import { PolicyPack, PolicyPackConfig } from "@pulumi/policy";
import { readFileSync } from "fs";
import * as path from "path";
import { PACK_NAME, policies } from "./pack";

// The lab's config is the pack's default, so `pulumi preview --policy-pack policies` on stack
// lab gives the same verdicts as `npm run plan`; --policy-pack-config replaces it for another stack.
const labConfig = JSON.parse(readFileSync(path.join(__dirname, "lab.json"), "utf8")) as PolicyPackConfig;

new PolicyPack(PACK_NAME, { policies }, labConfig);
