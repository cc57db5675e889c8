// The CrossGuard pack served to the Pulumi CLI:
//   pulumi preview --stack lab --policy-pack policies --policy-pack-config policies/lab.json
// Enforcement levels and thresholds are policy config (each policy's configSchema); the
// offline plan (npm run plan) applies the same list from ./pack with the same config.
// The pack has no config of its own: a stack's facts (its gateway, its existing master) come
// only from --policy-pack-config, so the pack cannot judge one stack with another's figures.
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./pack";

new PolicyPack(PACK_NAME, { policies });
